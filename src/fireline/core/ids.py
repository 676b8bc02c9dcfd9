"""Identifiers in PagerDuty's style: an uppercase letter-and-digit string starting with P."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_uppercase + string.digits


def new_id() -> str:
    # 13 random symbols of 36 ≈ 67 bits: collisions are not a practical concern.
    return "P" + "".join(secrets.choice(_ALPHABET) for _ in range(13))


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
