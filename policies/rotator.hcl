# ai-keys role "rotator": automation that rotates a key alone, in one call; a one-person path,
# which the engine refuses (403) while the two-person rule is on.
#
# can: update rotate/* (refused by the engine while require_separate_approver is on)
# can: read, list keys/*
# can: read overdue
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
# cannot: update finalize/*
# cannot: update extend/*
# cannot: update verify/*
# cannot: read history/*
# cannot: read metrics
# cannot: read report
# cannot: update acknowledge/*
# cannot: update rotate-signing-key
# cannot: update exposed
# cannot: read, delete records/keys/*
# cannot: update reconcile
#
# May run rotate/, which stages a new version (from a value, or created by the provider), tests
# it and promotes it in one call: one identity makes a new version live. That is what
# require_separate_approver=true forbids, so while it is on the engine refuses rotate/ with a
# 403 and this role can change nothing (rotations then need the operator and the approver, two
# people). May find what is due (overdue) and read keys' metadata (never values) to check the
# result. Cannot read creds/, cannot change configuration, schedules, providers or keys.
# For people, prefer the operator and approver roles: the history then names two.
# Adapt: replace "ai-keys/" with the engine's mount path; narrow "*" to a prefix (e.g.
# "ai-keys/rotate/team-a-*") to limit it to some keys.
path "ai-keys/rotate/*" {
  capabilities = ["update"]
}
path "ai-keys/keys/*" {
  capabilities = ["read", "list"]
}
path "ai-keys/overdue" {
  capabilities = ["read"]
}
