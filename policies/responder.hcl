# ai-keys role "responder": reports a leaked key value so the engine takes its access away; sees no value, changes nothing else.
#
# can: update exposed
# cannot: read, update config
# cannot: create, read, update, delete, list schedules/*
# cannot: create, read, update, delete, list providers/*
# cannot: create, read, update, delete, list keys/*
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
# cannot: read history/*
# cannot: read overdue
# cannot: read metrics
# cannot: read report
# cannot: read, delete records/keys/*
# cannot: update reconcile
# cannot: update rotate-signing-key
# cannot: create, read, update, delete, list notifications/*
#
# For a security team or a secret scanner's automation: given a leaked value (or its
# fingerprint), exposed revokes or rotates away every version that holds it, even under the
# two-person rule (taking access away is one person's act; making a new value current still
# needs an approver). The answer names the keys the value belonged to, nothing about others (an
# unknown value is a 404 that names no key). No reads: what was done is in the answer, and the
# keys' history names the reporter.
# Adapt: replace "ai-keys/" with the engine's mount path.
path "ai-keys/exposed" {
  capabilities = ["update"]
}
