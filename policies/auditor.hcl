# ai-keys role "auditor": reads the evidence, changes nothing, never sees a key value.
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
