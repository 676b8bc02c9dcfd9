"""Identifiers in PagerDuty's style: an uppercase letter-and-digit string starting with P."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_uppercase + string.digits
_SYMBOLS = 13
_SPACE = len(_ALPHABET) ** _SYMBOLS  # ≈ 2**67.2
_BITS = _SPACE.bit_length()


def new_id() -> str:
    # 13 random symbols of 36 ≈ 67 bits: collisions are not a practical concern.
    # One draw of random bits instead of 13 `secrets.choice` calls (ids are minted per health
    # check and per audit row); rejection keeps every id equally likely.
    while (value := secrets.randbits(_BITS)) >= _SPACE:
        pass
    symbols = []
    for _ in range(_SYMBOLS):
        value, index = divmod(value, 36)
        symbols.append(_ALPHABET[index])
    return "P" + "".join(symbols)


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
