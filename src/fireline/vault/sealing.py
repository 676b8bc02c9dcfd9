"""Sealing secrets (CRY-1..4, CRY-8): envelope encryption with AES-256-GCM.

Each row that holds secrets owns a random 32-byte data key, stored on the row *wrapped* by the
active master key (CRY-8: rotating the master key re-wraps 32-byte keys, not payloads). Every
secret field is sealed with its row's data key.

Formats (all integers big-endian):

    wrapped key   version(1) | master key id(8, ascii) | nonce(12) | AES-GCM(data key) + tag
    sealed blob   version(1) | data key id(8, ascii)   | nonce(12) | AES-GCM(plaintext) + tag

The associated data binds each blob to its place (CRY-3): a wrapped key to (table, row id), a
sealed blob to (table, row id, field), both prefixed by the blob's own header. A blob that was
tampered with, moved, sealed under an unknown key or read with the wrong key raises
`VaultError` (CRY-2) — never an empty value or a fallback.

Unwrapped data keys stay in a small in-memory LRU for a short time so that unsealing costs
about one AES-GCM decryption.

Callers register every unsealed value with `fireline.core.redaction.register_secret` before
using it (SEC-5); this module does not, because it sees bytes, not the values callers use.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fireline.core.errors import FirelineError
from fireline.vault.keyring import KEY_BYTES, Keyring, MasterKey

VERSION = 1
_VERSION_BYTE = bytes([VERSION])
_KEY_ID_BYTES = 8
_NONCE_BYTES = 12  # CRY-1: random 96-bit nonce
_HEADER = 1 + _KEY_ID_BYTES
_BODY = _HEADER + _NONCE_BYTES
_TAG_BYTES = 16
_CACHE_SIZE = 4096
# The master keys stay in memory for the life of the process anyway; the time limit only keeps
# data keys of rows that are no longer read from lingering.
_CACHE_SECONDS = 300.0


@dataclass(frozen=True)
class Place:
    """Where a sealed blob lives; it cannot be read anywhere else (CRY-3)."""

    table: str
    row_id: str
    field: str


class VaultError(FirelineError):
    """A blob cannot be opened: tampered, moved, malformed, or under an unknown key."""


class _Entry:
    """An unwrapped data key, the place it belongs to, and its associated data per field."""

    __slots__ = ("aads", "cipher", "expires", "header", "row_id", "table")

    def __init__(
        self, cipher: AESGCM, key_id: bytes, table: str, row_id: str, expires: float
    ) -> None:
        self.cipher = cipher
        self.header = _VERSION_BYTE + key_id
        self.table = table
        self.row_id = row_id
        self.expires = expires
        self.aads: dict[str, bytes] = {}

    def aad(self, field: str) -> bytes:
        aad = self.header + _encode(b"sealed", self.table, self.row_id, field)
        self.aads[field] = aad
        return aad


class Vault:
    def __init__(self, keyring: Keyring) -> None:
        for key in keyring.keys:
            if len(key.key_id.encode()) != _KEY_ID_BYTES:
                raise VaultError(f"master key ids must be {_KEY_ID_BYTES} characters")
        self._keyring = keyring
        self._masters = {key.key_id.encode(): AESGCM(key.material) for key in keyring.keys}
        self._active_id = keyring.active.key_id.encode()
        self._cache: OrderedDict[bytes, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def active_key(self) -> MasterKey:
        return self._keyring.active

    def new_data_key(self, *, table: str, row_id: str) -> bytes:
        """A fresh random data key, wrapped by the active master key (CRY-8)."""
        return self._wrap(AESGCM.generate_key(bit_length=KEY_BYTES * 8), table, row_id)

    def seal(self, plaintext: bytes, *, wrapped_key: bytes, place: Place) -> bytes:
        entry = self._entry(wrapped_key, place.table, place.row_id)
        nonce = os.urandom(_NONCE_BYTES)  # CRY-4: a fresh nonce, so equal values differ
        aad = entry.aads.get(place.field) or entry.aad(place.field)
        return entry.header + nonce + entry.cipher.encrypt(nonce, plaintext, aad)

    def unseal(self, blob: bytes, *, wrapped_key: bytes, place: Place) -> bytes:
        # The cache hit path is inlined: unsealing should cost about one AES-GCM decryption.
        entry = self._cache.get(wrapped_key)
        if (
            entry is None
            # The cache is keyed by the wrapped bytes; the place must match too (CRY-3).
            or entry.row_id != place.row_id
            or entry.table != place.table
            or entry.expires < time.monotonic()
        ):
            entry = self._entry(wrapped_key, place.table, place.row_id)
        else:
            # suppress() would cost as much as the decryption; evicted meanwhile is fine.
            try:  # noqa: SIM105
                self._cache.move_to_end(wrapped_key)
            except KeyError:
                pass
        # CRY-2: anything but a well-formed blob under this row's data key fails loudly.
        if blob[:_HEADER] != entry.header or len(blob) < _BODY + _TAG_BYTES:
            raise VaultError("sealed value is malformed, of an unknown version or another key")
        try:
            return entry.cipher.decrypt(
                blob[_HEADER:_BODY], blob[_BODY:],
                entry.aads.get(place.field) or entry.aad(place.field),
            )
        except InvalidTag:
            raise VaultError("sealed value failed authentication (tampered or moved)") from None

    def needs_rewrap(self, wrapped_key: bytes) -> bool:
        """True when the data key is not wrapped by the active master key."""
        return _master_id(wrapped_key) != self._active_id

    def rewrap(self, wrapped_key: bytes, *, table: str, row_id: str) -> bytes:
        """The same data key, wrapped by the active master key (CRY-7)."""
        return self._wrap(self._unwrap(wrapped_key, table, row_id), table, row_id)

    def _wrap(self, data_key: bytes, table: str, row_id: str) -> bytes:
        header = _VERSION_BYTE + self._active_id
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._masters[self._active_id].encrypt(
            nonce, data_key, header + _encode(b"data-key", table, row_id)
        )
        return header + nonce + sealed

    def _unwrap(self, wrapped_key: bytes, table: str, row_id: str) -> bytes:
        key_id = _master_id(wrapped_key)
        master = self._masters.get(key_id)
        if master is None:
            name = key_id.decode(errors="replace")
            raise VaultError(f"data key is wrapped by unknown master key {name!r}")
        aad = wrapped_key[:_HEADER] + _encode(b"data-key", table, row_id)
        try:
            data_key = master.decrypt(wrapped_key[_HEADER:_BODY], wrapped_key[_BODY:], aad)
        except InvalidTag:
            raise VaultError("data key failed authentication (tampered or moved)") from None
        if len(data_key) != KEY_BYTES:
            raise VaultError("data key has the wrong length")
        return data_key

    def _entry(self, wrapped_key: bytes, table: str, row_id: str) -> _Entry:
        # No lock on the hit path: single OrderedDict operations are atomic under the GIL,
        # and a lost race only costs one extra unwrap.
        entry = self._cache.get(wrapped_key)
        if entry is not None:
            # The cache is keyed by the wrapped bytes; the place must match too (CRY-3).
            if entry.row_id == row_id and entry.table == table and (
                entry.expires > time.monotonic()
            ):
                return entry
            self._cache.pop(wrapped_key, None)
        data_key = self._unwrap(wrapped_key, table, row_id)
        key_id = hashlib.sha256(b"fireline-data-key-id:" + data_key).hexdigest()[:_KEY_ID_BYTES]
        entry = _Entry(
            AESGCM(data_key), key_id.encode(), table, row_id, time.monotonic() + _CACHE_SECONDS
        )
        with self._lock:
            self._cache[wrapped_key] = entry
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return entry


def _master_id(wrapped_key: bytes) -> bytes:
    if len(wrapped_key) != _BODY + KEY_BYTES + _TAG_BYTES or wrapped_key[0] != VERSION:
        raise VaultError("wrapped data key is malformed or of an unknown format version")
    return wrapped_key[1:_HEADER]


def _encode(purpose: bytes, *parts: str) -> bytes:
    # Length-prefixed, so that no two different places share an encoding.
    out = [purpose]
    for part in parts:
        raw = part.encode()
        out.append(len(raw).to_bytes(4, "big") + raw)
    return b"".join(out)
