# ai-keys role "app": an application that reads one key's current value.
#
# Adapt: replace "my-app" with the key's name (one path block per key the application uses), and
# "ai-keys/" with the engine's mount path. Nothing else: an application needs no list, no
# metadata, no history. During a cut-over creds/ also returns previous_api_key, so the
# application keeps working through a rotation without any other path.
path "ai-keys/creds/my-app" {
  capabilities = ["read"]
}
