"""Identifiers in PagerDuty's style: an uppercase letter-and-digit string starting with P."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_uppercase + string.digits
_SYMBOLS = 13
# 13 random symbols of 36 ≈ 67 bits: collisions are not a practical concern.
_SPACE = len(_ALPHABET) ** _SYMBOLS


def new_id() -> str:
    # One draw from the OS CSPRNG, written in base 36 (one `secrets.choice` per symbol cost
    # a system call each, and ids are made on every write).
    value = secrets.randbelow(_SPACE)
    symbols = []
    for _ in range(_SYMBOLS):
        value, digit = divmod(value, len(_ALPHABET))
        symbols.append(_ALPHABET[digit])
    return "P" + "".join(symbols)


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
