"""Master keys (CRY-5, CRY-6): from `FIRELINE_MASTER_KEY` (base64 of 32 bytes, a comma-separated
list newest first) or, in embedded mode, from `master.key` in `FIRELINE_HOME`, created with
mode 0600 on first start. Never from the database. A key of any other length is refused, and
without a valid key the server does not start.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from fireline.core.errors import SettingsError
from fireline.settings import Settings

KEY_BYTES = 32
KEY_FILE = "master.key"


@dataclass(frozen=True)
class MasterKey:
    key_id: str
    material: bytes

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id!r})"


@dataclass(frozen=True)
class Keyring:
    keys: tuple[MasterKey, ...]

    @property
    def active(self) -> MasterKey:
        return self.keys[0]

    def get(self, key_id: str) -> MasterKey | None:
        return next((key for key in self.keys if key.key_id == key_id), None)


def decode_key(encoded: str, *, source: str) -> MasterKey:
    try:
        material = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SettingsError(f"{source}: a master key must be base64") from exc
    if len(material) != KEY_BYTES:
        raise SettingsError(
            f"{source}: a master key must be {KEY_BYTES} bytes, got {len(material)}"
        )
    # The id names the key without revealing it: a truncated hash of the key material.
    key_id = hashlib.sha256(b"fireline-key-id:" + material).hexdigest()[:8]
    return MasterKey(key_id=key_id, material=material)


def generate_key() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def load_keyring(settings: Settings, *, create: bool = False) -> Keyring:
    if settings.master_keys:
        keys = tuple(decode_key(raw, source="FIRELINE_MASTER_KEY") for raw in settings.master_keys)
        return Keyring(keys)
    path = settings.home / KEY_FILE
    if not path.exists():
        if not create:
            raise SettingsError(
                f"No master key: set FIRELINE_MASTER_KEY or create {path} (fireline serve "
                "creates one on first start in embedded mode)"
            )
        _write_key_file(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SettingsError(f"{path} must be readable by its owner only (mode 0600)")
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise SettingsError(f"{path} is empty")
    return Keyring(tuple(decode_key(line, source=str(path)) for line in lines))


def _write_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(generate_key() + "\n")
