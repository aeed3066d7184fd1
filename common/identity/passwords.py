"""Password hashing with Argon2id: pure functions, no web framework.

Hashing is CPU-bound, deliberately slow and holds its memory cost (64 MiB by default) while it
runs, so it runs in a worker thread, never on the loop, and at most
`PASSWORD_HASH_MAX_CONCURRENCY` hashes or verifications run at once in a process: the others
wait for a slot on the event loop, holding neither a thread nor memory. Without the cap, 40
concurrent registrations took 40 threads x 64 MiB (the service went from 90 to 1650 MB).
"""

from __future__ import annotations

import asyncio
import secrets
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

import anyio
import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

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


T = TypeVar("T")

# One set of slots per event loop: a service process runs one loop, so this is the process's
# cap (tests run many loops one after another, and a limiter belongs to the loop it waits on).
_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


def argon2_slots(settings: Settings) -> anyio.CapacityLimiter:
    loop = asyncio.get_running_loop()
    slots = _SLOTS.get(loop)
    if slots is None:
        slots = _SLOTS[loop] = anyio.CapacityLimiter(settings.password_hash_max_concurrency)
    else:
        slots.total_tokens = settings.password_hash_max_concurrency
    return slots


async def _in_argon2_thread(settings: Settings, function: Callable[..., T], *args: object) -> T:
    """Run one Argon2 call in a worker thread once a slot is free."""
    return await anyio.to_thread.run_sync(function, *args, limiter=argon2_slots(settings))


async def hash_password(password: str, settings: Settings) -> str:
    return await _in_argon2_thread(settings, password_hasher(settings).hash, password)


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
        # The dummy hash is made (once) in the worker thread too: it is a hash like any other.
        await _in_argon2_thread(settings, lambda: _verify(hasher, _dummy_hash(hasher), password))
        return PasswordCheck(valid=False)
    return await _in_argon2_thread(settings, _verify, hasher, stored_hash, password)
