"""Failed-login throttling, and the per-address registration limit, shared by every replica.

A sign-in is counted against three keys, each with its own ceiling per window:

- the (account, address) pair (`LOGIN_MAX_FAILURES_PER_PAIR`, 5): one address guessing one
  account's password is stopped after a few tries, and only that address is;
- the address (`LOGIN_MAX_FAILURES_PER_ADDRESS`, 50): one address spraying many accounts;
- the account (`LOGIN_MAX_FAILURES_PER_ACCOUNT`, 100): many addresses guessing one account.
  Only this one locks the account for everyone, so it is set high: reaching it takes 100
  failed sign-ins within the window from at least 100 / 5 = 20 addresses, since the pair
  ceiling stops each address after 5 and a throttled attempt is not counted further.

The account is keyed on `email_key`, the same binary canonical key the account is found by,
so no spelling of an address reaches an account without being counted against it; an unknown
e-mail is throttled exactly like a real one.

Each key is charged in its own committed transaction before the password is checked, in a
fixed order (pair, address, account), and the next key is charged only while the previous
ones are below their ceilings: an attempt refused by its pair costs the account nothing, so
an attacker cannot lock a person out from one address. Counting up front keeps the limits
exact under concurrency: N parallel guesses cannot all see "below the limit", because each
one's increment is visible to the next before any hashing starts. A successful sign-in gives
back what it was charged and clears its pair. The counters live in the database since
replicas share nothing else.

Windows are fixed: they start at the first failure and last `LOGIN_FAILURE_WINDOW_SECONDS`.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, case, delete, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.config import Settings
from common.db.dialect import upsert
from common.db.types import UTCDateTime
from common.models.identity import LoginThrottle

PAIR = "pair"
ACCOUNT = "account"
ADDRESS = "address"
REGISTRATION = "register"


@dataclass(frozen=True)
class ThrottleKey:
    scope: str
    subject_hash: str
    limit: int


@dataclass(frozen=True)
class LoginKeys:
    pair: ThrottleKey
    address: ThrottleKey
    account: ThrottleKey

    def in_charge_order(self) -> tuple[ThrottleKey, ...]:
        return (self.pair, self.address, self.account)


def login_keys(*, key: str, address: str, settings: Settings) -> LoginKeys:
    """The keys of a sign-in with the account key `key` (`email_key` of what was typed)."""
    return LoginKeys(
        pair=ThrottleKey(
            PAIR, _digest(f"{key}\x00{address}"), settings.login_max_failures_per_pair
        ),
        address=ThrottleKey(ADDRESS, _digest(address), settings.login_max_failures_per_address),
        account=ThrottleKey(ACCOUNT, _digest(key), settings.login_max_failures_per_account),
    )


def registration_key(*, address: str, settings: Settings) -> ThrottleKey:
    """Registrations of one client address (every attempt counts: each costs a hash)."""
    return ThrottleKey(REGISTRATION, _digest(address), settings.register_max_per_address)


def _digest(subject: str) -> str:
    return hashlib.sha256(subject.encode()).hexdigest()


async def count_attempt(
    session: AsyncSession,
    keys: tuple[ThrottleKey, ...],
    *,
    window_seconds: int,
    now: datetime,
) -> int | None:
    """Charge one attempt to each key in turn, stopping at the first one over its limit: the
    seconds to wait then (the caller must not go on), else `None`."""
    table = LoginThrottle.__table__
    assert isinstance(table, Table)
    window = timedelta(seconds=window_seconds)
    window_over = table.c.window_started_at <= literal(now - window, UTCDateTime())
    for key in keys:
        statement = upsert(
            session.get_bind().dialect.name,
            table,
            conflict_columns=["scope", "subject_hash"],
            # On MySQL later assignments see earlier ones, so `failures` goes first: both
            # must read the window as it was before this attempt.
            set_=lambda _new: {
                "failures": case((window_over, 1), else_=table.c.failures + 1),
                "window_started_at": case(
                    (window_over, literal(now, UTCDateTime())), else_=table.c.window_started_at
                ),
            },
        ).values(scope=key.scope, subject_hash=key.subject_hash, failures=1, window_started_at=now)
        await session.execute(statement)
        row = (
            await session.execute(
                select(LoginThrottle.failures, LoginThrottle.window_started_at).where(
                    LoginThrottle.scope == key.scope,
                    LoginThrottle.subject_hash == key.subject_hash,
                )
            )
        ).one()
        if row.failures > key.limit:
            wait: float = (row.window_started_at + window - now).total_seconds()
            return max(1, math.ceil(wait))
    return None


async def forgive_attempt(session: AsyncSession, keys: LoginKeys) -> None:
    """After a successful sign-in: its pair starts afresh, and the address and the account
    get back the attempt they were charged (other failures still count: a person signing in
    does not wipe out an attack on their account from elsewhere)."""
    await session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.scope == keys.pair.scope,
            LoginThrottle.subject_hash == keys.pair.subject_hash,
        )
    )
    # One statement per row, in the charging order, so a sign-in and a concurrent charge
    # lock these rows in the same order.
    for key in (keys.address, keys.account):
        await session.execute(
            update(LoginThrottle)
            .where(
                LoginThrottle.scope == key.scope,
                LoginThrottle.subject_hash == key.subject_hash,
                LoginThrottle.failures > 0,
            )
            .values(failures=LoginThrottle.failures - 1)
        )
