"""Registration and password hashing bounded: a per-address registration limit, and at most
`PASSWORD_HASH_MAX_CONCURRENCY` Argon2 operations at once in a process (issue 13, attack 4;
the memory it bounds is measured against a real process in tests/e2e/test_registration_memory)."""

from __future__ import annotations

import asyncio

from httpx import AsyncClient
from sqlalchemy import func, select

from common.config import Settings
from common.db import Database
from common.identity.passwords import argon2_slots, hash_password, verify_password
from common.models.identity import UserAccount
from tests.fixtures.clients import client_for
from tests.fixtures.factories import PASSWORD, unique_email

REGISTER = "/api/v1/auth/register"


async def register(client: AsyncClient, email: str) -> int:
    response = await client.post(
        REGISTER, json={"email": email, "password": PASSWORD, "full_name": "New Person"}
    )
    return response.status_code


async def accounts(database: Database) -> int:
    async with database.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(UserAccount)) or 0)


async def test_registrations_past_the_address_limit_are_429_and_write_nothing(
    isolated_database: Database, settings: Settings
) -> None:
    strict = settings.model_copy(update={"register_max_per_address": 3})
    async for client in client_for("sales", strict, isolated_database, as_=None):
        # A refused attempt (an address already taken) counts too: it cost a hash as well.
        taken = unique_email("taken")
        assert [await register(client, email) for email in (taken, taken)] == [201, 409]
        assert await register(client, unique_email()) == 201
        before = await accounts(isolated_database)
        refused = await client.post(
            REGISTER,
            json={"email": unique_email(), "password": PASSWORD, "full_name": "One Too Many"},
        )
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "too_many_registrations"
        retry_after = int(refused.headers["retry-after"])
        assert 0 < retry_after <= strict.register_window_seconds
        assert await accounts(isolated_database) == before
        # Signing in is not a registration: it is not held back by this limit.
        signed_in = await client.post("/auth/token", data={"username": taken, "password": PASSWORD})
        assert signed_in.status_code == 200


async def test_argon2_runs_at_most_the_configured_number_at_once(settings: Settings) -> None:
    """Twelve hashes and verifications asked for at once: never more than two hold a slot
    (and a worker thread, and Argon2's memory); the rest wait on the loop, and all finish."""
    costly = settings.model_copy(
        update={"password_hash_memory_cost_kib": 4096, "password_hash_max_concurrency": 2}
    )
    stored = await hash_password(PASSWORD, costly)
    slots = argon2_slots(costly)
    busiest, most_waiting = 0, 0
    work = [
        asyncio.create_task(hash_password(f"password number {n}", costly)) for n in range(6)
    ] + [asyncio.create_task(verify_password(stored, PASSWORD, costly)) for _ in range(6)]
    while not all(task.done() for task in work):
        busiest = max(busiest, int(slots.borrowed_tokens))
        most_waiting = max(most_waiting, slots.statistics().tasks_waiting)
        await asyncio.sleep(0.001)
    results = await asyncio.gather(*work)
    assert busiest == 2
    assert most_waiting >= 6
    assert all(isinstance(result, str) for result in results[:6])
    assert all(check.valid for check in results[6:])  # type: ignore[union-attr]
    assert slots.borrowed_tokens == 0
