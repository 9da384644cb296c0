# ai-keys role "operator": runs rotations, never makes a new version live.
#
# May stage a new version (from a value or from the provider), test it, run a whole rotation in
# one call, roll back, and extend a cut-over's grace window. May read keys' metadata and history
# (never values) to see what is pending. Cannot promote or finalize (the approver does), cannot
# read creds/, cannot change configuration, schedules, providers or keys.
# Adapt: replace "ai-keys/" with the engine's mount path; narrow "*" to a prefix (e.g.
# "ai-keys/stage/team-a-*") to limit an operator to some keys.
path "ai-keys/stage/*" {
  capabilities = ["update"]
}
path "ai-keys/test/*" {
  capabilities = ["update"]
}
path "ai-keys/rotate/*" {
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
