# ai-keys role "admin": configures the engine and manages keys, never reads their values.
#
# can: read, update config
# can: create, read, update, delete, list schedules/*
# can: create, read, update, delete, list providers/*
# can: create, read, update, delete, list keys/*
# can: read history/*
# can: read overdue
# can: read metrics
# can: read report
# can: update acknowledge/*
# can: create, read, update, delete, list notifications/*
# can: update rotate-signing-key
# can: update exposed
# can: read, delete records/keys/*
# can: update reconcile
# cannot: read creds/*
# cannot: update stage/*
# cannot: update test/*
# cannot: update promote/*
# cannot: update rollback/*
# cannot: update rotate/*
# cannot: update finalize/*
# cannot: update extend/*
# cannot: update verify/*
#
# May configure the notification webhooks (their signing secrets are write-only).
# May read and change the engine configuration, schedules, providers (the admin key is
# write-only) and keys (create from a value, change settings, delete), and read the reports.
# May run reconcile (after a restore: revokes keys the engine made that no record claims).
# May acknowledge a manual revocation: the administrator, who holds the providers' consoles,
# revokes by hand what the engine does not own and records it. May report a leaked value
# (exposed): taking access away is one person's act, even under the two-person rule.
# May read and delete, by its exact storage path, a key record no keys/ path can use (refused,
# or named against the name rule): never one that would leave an owned key alive unrecorded.
# No creds/: an administrator who could read every application's key would defeat the app role;
# an emergency read goes through a break-glass token, not this role. No rotation steps either:
# rotations belong to the operator and approver (or, with the two-person rule off, the rotator),
# so the history names who did what.
# Adapt: replace "ai-keys/" with the engine's mount path.
path "ai-keys/config" {
  capabilities = ["read", "update"]
}
path "ai-keys/rotate-signing-key" {
  capabilities = ["update"]
}
path "ai-keys/schedules/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "ai-keys/providers/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "ai-keys/keys/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
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
path "ai-keys/acknowledge/*" {
  capabilities = ["update"]
}
path "ai-keys/reconcile" {
  capabilities = ["update"]
}
path "ai-keys/records/keys/*" {
  capabilities = ["read", "delete"]
}
path "ai-keys/exposed" {
  capabilities = ["update"]
}
path "ai-keys/notifications/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
