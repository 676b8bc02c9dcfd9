"""Unsealing one secret through the vault vs a raw AES-256-GCM decryption of a blob of the
same size (nonce stored in front, associated data of the same length), in the same process.

The vault's extra work is the data-key cache lookup, the format checks and the place binding;
the unwrap itself is amortised by the cache, as it is in the service.
"""

from __future__ import annotations

import base64
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bench._runner import report
from fireline.vault.keyring import Keyring, decode_key
from fireline.vault.sealing import Place, Vault

SECRETS = 200
ROUNDS = 300
SECRET_BYTES = 64


def _per_call_us(work: list[tuple[object, ...]], call) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(5):  # best of five: the machine is shared
        started = time.perf_counter()
        for _ in range(ROUNDS):
            for item in work:
                call(*item)
        best = min(best, time.perf_counter() - started)
    return best / (ROUNDS * len(work)) * 1e6


def main() -> None:
    key = decode_key(base64.b64encode(os.urandom(32)).decode(), source="bench")
    vault = Vault(Keyring((key,)))
    sealed = []
    for index in range(SECRETS):
        at = Place("connections", f"P{index:013d}", "api_key")
        wrapped = vault.new_data_key(table=at.table, row_id=at.row_id)
        blob = vault.seal(os.urandom(SECRET_BYTES), wrapped_key=wrapped, place=at)
        sealed.append((blob, wrapped, at))

    raw = []
    for blob, _, _ in sealed:
        cipher, nonce = AESGCM(AESGCM.generate_key(bit_length=256)), os.urandom(12)
        aad = os.urandom(len(blob) - SECRET_BYTES)
        raw.append((cipher, nonce + cipher.encrypt(nonce, os.urandom(SECRET_BYTES), aad), aad))

    def unseal(blob: bytes, wrapped: bytes, at: Place) -> bytes:
        return vault.unseal(blob, wrapped_key=wrapped, place=at)

    def decrypt(cipher: AESGCM, blob: bytes, aad: bytes) -> bytes:
        return cipher.decrypt(blob[:12], blob[12:], aad)

    fireline_us = _per_call_us(sealed, unseal)  # type: ignore[arg-type]
    ceiling_us = _per_call_us(raw, decrypt)  # type: ignore[arg-type]
    print(f"unseal cost per secret: fireline {fireline_us:.2f} µs, raw AES-GCM {ceiling_us:.2f} µs")
    # Throughputs (secrets/s), so ratio = fireline's over the ceiling's: ≤ 1 means slower.
    report("vault_unseal", 1e6 / fireline_us, 1e6 / ceiling_us, unit="/s")


if __name__ == "__main__":
    main()
