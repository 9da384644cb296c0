"""An application that reads its AI provider key from the ai-keys engine with hvac.

Pattern: read `creds/<name>` before calling the provider and use `api_key`. If the provider
answers 401 while a rotation's grace window is open (`previous_api_key` is present), retry that
call once with `previous_api_key`: the new key may not be known everywhere yet. The next call
reads `creds/` again, so the application moves to the new key as soon as it works. If Vault is
unreachable, the last credentials read are kept in memory and used.

Only versions and outcomes are printed, never a key value.

    VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=... \
        python examples/hvac_client.py --key app --provider-url https://api.openai.com

Exit status: 0 when the provider accepted a key, 1 when it did not, 2 when no credentials could
be read at all.
"""

import argparse
import os
import sys
import urllib.error
import urllib.request

import hvac
import requests


class NoCredentials(Exception):
    """Vault could not be read and no earlier credentials are held."""


class AiKeyClient:
    """Reads `<mount>/creds/<name>` and calls a provider with the current or previous key."""

    def __init__(self, vault, name, mount="ai-keys"):
        self.vault = vault
        self.path = f"{mount}/creds/{name}"
        self.last_good = None  # the last creds/ data read, kept if Vault becomes unreachable

    def creds(self):
        """Fresh creds/ data, or the last good one (and a note) when Vault is unreachable."""
        try:
            data = self.vault.read(self.path)["data"]
        except (requests.exceptions.RequestException, hvac.exceptions.VaultDown) as err:
            if self.last_good is None:
                raise NoCredentials(f"cannot read {self.path}: {type(err).__name__}") from None
            return self.last_good, f"vault unreachable ({type(err).__name__}), using last good"
        self.last_good = data
        return data, None

    def call(self, request):
        """Runs `request(key) -> HTTP status` with the current key, and once more with the
        previous key if the current one gets 401 during a grace window. Returns
        (status, which key was used, the current version, notes)."""
        data, note = self.creds()
        notes = [note] if note else []
        version = data.get("version")
        status = request(data["api_key"])
        if status == 401 and data.get("previous_api_key"):
            notes.append(f"current version {version} got 401, retried once with previous_api_key")
            return request(data["previous_api_key"]), "previous", version, notes
        return status, "current", version, notes


def list_models(base_url, timeout=10):
    """`GET {base}/v1/models` with `Authorization: Bearer <key>` (OpenAI shape): the status."""

    def request(key):
        req = urllib.request.Request(
            base_url.rstrip("/") + "/v1/models", headers={"Authorization": f"Bearer {key}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            # The body is not read: a provider may echo (part of) the key in its error.
            return err.code

    return request


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vault-addr", default=os.environ.get("VAULT_ADDR"))
    parser.add_argument("--key", default=os.environ.get("AI_KEY_NAME"), help="the key's name")
    parser.add_argument("--mount", default=os.environ.get("AI_KEYS_MOUNT", "ai-keys"))
    parser.add_argument("--provider-url", default=os.environ.get("PROVIDER_BASE_URL"))
    args = parser.parse_args(argv)
    token = os.environ.get("VAULT_TOKEN")
    needed = [
        ("--vault-addr/VAULT_ADDR", args.vault_addr),
        ("VAULT_TOKEN", token),
        ("--key/AI_KEY_NAME", args.key),
        ("--provider-url/PROVIDER_BASE_URL", args.provider_url),
    ]
    missing = [name for name, value in needed if not value]
    if missing:
        parser.error("missing " + ", ".join(missing))

    client = AiKeyClient(hvac.Client(url=args.vault_addr, token=token), args.key, args.mount)
    try:
        status, used, version, notes = client.call(list_models(args.provider_url))
    except NoCredentials as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for note in notes:
        print(note)
    which = f"version {version}"
    if used == "previous":
        which = f"previous_api_key (current is {version})"
    outcome = "ok" if 200 <= status < 300 else "rejected"
    print(f"used {which}: HTTP {status} {outcome}")
    return 0 if outcome == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
