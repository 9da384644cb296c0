# ai-keys role "auditor": reads the evidence, changes nothing, never sees a key value.
#
# can: read, list keys/*
# can: read history/*
# can: read overdue
# can: read metrics
# can: read report
# cannot: read, update config
# cannot: create, read, update, delete, list schedules/*
# cannot: create, read, update, delete, list providers/*
# cannot: create, read, update, delete, list notifications/*
# cannot: create, update, delete keys/*
# cannot: read creds/*
# cannot: update stage/*
# cannot: update test/*
# cannot: update promote/*
# cannot: update rollback/*
# cannot: update rotate/*
# cannot: update finalize/*
# cannot: update extend/*
# cannot: update verify/*
# cannot: update acknowledge/*
# cannot: update rotate-signing-key
# cannot: update exposed
# cannot: read, delete records/keys/*
# cannot: update reconcile
#
# May list keys and read their metadata (versions, states, fingerprints, test outcomes: never
# values), their history, the overdue report, the metrics and the compliance report. No creds/,
# no write anywhere.
# Adapt: replace "ai-keys/" with the engine's mount path.
path "ai-keys/keys/*" {
  capabilities = ["read", "list"]
}
path "ai-keys/history/*" {
  capabilities = ["read"]
}
path "ai-keys/overdue" {
  capabilities = ["read"]
}
path "ai-keys/metrics" {
  capabilities = ["read"]
}
path "ai-keys/report" {
  capabilities = ["read"]
}
