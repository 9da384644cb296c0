# ai-keys role "app": an application that reads one key's current value.
#
# can: read creds/my-app
# cannot: read creds/* (any other key)
# cannot: read, update config
# cannot: create, read, update, delete, list schedules/*
# cannot: create, read, update, delete, list providers/*
# cannot: create, read, update, delete, list notifications/*
# cannot: create, read, update, delete, list keys/*
# cannot: update stage/*
# cannot: update test/*
# cannot: update promote/*
# cannot: update rollback/*
# cannot: update rotate/*
# cannot: update finalize/*
# cannot: update extend/*
# cannot: update verify/*
# cannot: read history/*
# cannot: read overdue
# cannot: read metrics
# cannot: read report
# cannot: update acknowledge/*
# cannot: update rotate-signing-key
# cannot: update exposed
# cannot: read, delete records/keys/*
# cannot: update reconcile
#
# Adapt: replace "my-app" with the key's name (one path block per key the application uses), and
# "ai-keys/" with the engine's mount path. Nothing else: an application needs no list, no
# metadata, no history. During a cut-over creds/ also returns previous_api_key, so the
# application keeps working through a rotation without any other path.
path "ai-keys/creds/my-app" {
  capabilities = ["read"]
}
