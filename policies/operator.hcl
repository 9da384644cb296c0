# ai-keys role "operator": stages and tests new versions, rolls back, extends a cut-over; never
# makes a new version live.
#
# can: update stage/*
# can: update test/*
# can: update rollback/*
# can: update extend/*
# can: read, list keys/*
# can: read history/*
# cannot: read, update config
# cannot: create, read, update, delete, list schedules/*
# cannot: create, read, update, delete, list providers/*
# cannot: create, read, update, delete, list notifications/*
# cannot: create, update, delete keys/*
# cannot: read creds/*
# cannot: update promote/*
# cannot: update rotate/*
# cannot: update finalize/*
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
# May stage a new version (from a value or from the provider), test it, roll back, and extend a
# cut-over's grace window. May read keys' metadata and history (never values) to see what is
# pending. Cannot promote or finalize (the approver does), and cannot rotate/, which stages,
# tests and promotes in one call (the rotator role, for automation that may rotate alone).
# Cannot read creds/, cannot change configuration, schedules, providers or keys.
# Adapt: replace "ai-keys/" with the engine's mount path; narrow "*" to a prefix (e.g.
# "ai-keys/stage/team-a-*") to limit an operator to some keys.
path "ai-keys/stage/*" {
  capabilities = ["update"]
}
path "ai-keys/test/*" {
  capabilities = ["update"]
}
path "ai-keys/rollback/*" {
  capabilities = ["update"]
}
path "ai-keys/extend/*" {
  capabilities = ["update"]
}
path "ai-keys/keys/*" {
  capabilities = ["read", "list"]
}
path "ai-keys/history/*" {
  capabilities = ["read"]
}
