# ai-keys role "approver": makes a staged and tested version live, and ends a cut-over.
#
# can: update promote/*
# can: update finalize/*
# can: read, list keys/*
# can: read history/*
# cannot: read, update config
# cannot: create, read, update, delete, list schedules/*
# cannot: create, read, update, delete, list providers/*
# cannot: create, read, update, delete, list notifications/*
# cannot: create, update, delete keys/*
# cannot: read creds/*
# cannot: update stage/*
# cannot: update test/*
# cannot: update rollback/*
# cannot: update rotate/*
# cannot: update extend/*
# cannot: update verify/*
# cannot: read overdue
# cannot: read metrics
# cannot: read report
# cannot: update acknowledge/*
# cannot: update rotate-signing-key
# cannot: update exposed
# cannot: read, delete records/keys/*
# cannot: update reconcile
#
# May promote the pending version and finalize (end the previous version's grace now). May read
# keys' metadata and history (never values) to check the pending version's test outcome before
# promoting. Cannot stage, test or roll back (the operator does), cannot read creds/. With
# config require_separate_approver=true the engine also refuses a promote by the identity that
# staged the version, so the two roles must be held by different people.
# Adapt: replace "ai-keys/" with the engine's mount path.
path "ai-keys/promote/*" {
  capabilities = ["update"]
}
path "ai-keys/finalize/*" {
  capabilities = ["update"]
}
path "ai-keys/keys/*" {
  capabilities = ["read", "list"]
}
path "ai-keys/history/*" {
  capabilities = ["read"]
}
