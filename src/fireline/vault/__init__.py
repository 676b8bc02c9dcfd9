"""Credential encryption: `keyring` (master keys), `sealing` (the `Vault`), `rotation`."""
