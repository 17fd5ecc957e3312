"""Password hashing with Argon2id (argon2-cffi's recommended parameters)."""

from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()


class PasswordTooShort(ValueError):
    """A new password shorter than MIN_PASSWORD_LENGTH characters."""


def check_password_strength(password: str) -> None:
    """Refuse a password too short to be worth hashing."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooShort(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    """An encoded Argon2id hash of `password`, with its own random salt."""
    return _hasher.hash(password)


def verify_password(encoded: str, password: str) -> bool:
    """Whether `password` matches the encoded hash; a malformed hash never matches."""
    try:
        return _hasher.verify(encoded, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(encoded: str) -> bool:
    """Whether the hash was made with weaker parameters than the current ones."""
    return _hasher.check_needs_rehash(encoded)


@lru_cache(maxsize=1)
def decoy_hash() -> str:
    """A hash nobody knows the password of, verified when a login names no usable account.

    Verifying it costs what verifying a real hash costs, so response time does not tell
    an attacker which usernames exist.
    """
    return _hasher.hash(secrets.token_urlsafe(32))
