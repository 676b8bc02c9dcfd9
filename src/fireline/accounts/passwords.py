"""Password hashing with Argon2id (RFC 9106), parameters from argon2-cffi's defaults."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verifying against this keeps the time of an unknown-email login equal to a wrong password.
_DUMMY_HASH = _hasher.hash("fireline-timing-equaliser")

MIN_LENGTH = 12


def hash_password(password: str) -> str:
    return str(_hasher.hash(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash or _DUMMY_HASH, password)) and bool(
            password_hash
        )
    except (VerificationError, InvalidHashError):
        return False
