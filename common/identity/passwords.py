"""Password hashing with Argon2id: pure functions, no web framework.

Hashing is CPU-bound and deliberately slow, so it runs in a worker thread, never on the loop.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from starlette.concurrency import run_in_threadpool

from common.config import Settings

# Longer passwords are refused before hashing: Argon2 would happily spend CPU on megabytes.
PASSWORD_MAX_LENGTH = 128
PASSWORD_MIN_LENGTH = 8


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def password_hasher(settings: Settings) -> PasswordHasher:
    return _hasher(
        settings.password_hash_time_cost,
        settings.password_hash_memory_cost_kib,
        settings.password_hash_parallelism,
    )


@lru_cache(maxsize=4)
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_urlsafe(16))


async def hash_password(password: str, settings: Settings) -> str:
    # Argon2 is deliberately slow and CPU-bound: keep it off the event loop.
    return await run_in_threadpool(password_hasher(settings).hash, password)


@dataclass(frozen=True)
class PasswordCheck:
    valid: bool
    # A fresh hash when the stored one was made with other parameters than today's.
    upgraded_hash: str | None = None


def _verify(hasher: PasswordHasher, stored_hash: str, password: str) -> PasswordCheck:
    try:
        hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return PasswordCheck(valid=False)
    if hasher.check_needs_rehash(stored_hash):
        return PasswordCheck(valid=True, upgraded_hash=hasher.hash(password))
    return PasswordCheck(valid=True)


async def verify_password(
    stored_hash: str | None, password: str, settings: Settings
) -> PasswordCheck:
    """Check `password`; with no account (`stored_hash=None`) verify against a dummy hash
    anyway, so an unknown e-mail costs the same time as a wrong password."""
    hasher = password_hasher(settings)
    if len(password) > PASSWORD_MAX_LENGTH:
        return PasswordCheck(valid=False)
    if stored_hash is None:
        await run_in_threadpool(_verify, hasher, _dummy_hash(hasher), password)
        return PasswordCheck(valid=False)
    return await run_in_threadpool(_verify, hasher, stored_hash, password)
