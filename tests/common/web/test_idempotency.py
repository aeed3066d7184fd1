"""`Idempotency-Key`: one side effect per key, replays, mismatches, in-flight, expiry, release."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select, update

from common.config import Settings
from common.db import Database, utcnow
from common.models.identity import IdempotencyRecord, Role, UserAccount, WalletEntry
from common.web.idempotency import request_fingerprint
from sales_microservice.wallet.schemas import TopUp
from tests.fixtures.factories import bearer, make_account


def top_ups(account: UserAccount) -> str:
    return f"/api/v1/customers/{account.id}/wallet/top-ups"


def debits(account: UserAccount) -> str:
    return f"/api/v1/customers/{account.id}/wallet/debits"


CREDIT_NOTE = "goodwill"


def credit(amount: str) -> dict[str, str]:
    """An admin's store credit (a customer's own top-up is a pending payment instead)."""
    return {"amount": amount, "note": CREDIT_NOTE}


async def entry_count(database: Database, account: UserAccount) -> int:
    async with database.session_factory() as session:
        count = await session.scalar(
            select(func.count()).select_from(WalletEntry).where(WalletEntry.user_id == account.id)
        )
    return int(count or 0)


async def balance(client: AsyncClient, account: UserAccount, headers: dict[str, str]) -> str:
    wallet = await client.get(f"/api/v1/customers/{account.id}/wallet", headers=headers)
    return str(wallet.json()["balance"])


async def test_same_key_and_body_replays_with_one_side_effect(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    admin = await make_account(isolated_database, settings, role=Role.admin)
    headers = {**bearer(admin, settings), "Idempotency-Key": "top-up-1"}
    first = await sales_client.post(top_ups(customer), json=credit("7.00"), headers=headers)
    second = await sales_client.post(top_ups(customer), json=credit("7.00"), headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert await entry_count(isolated_database, customer) == 1
    assert await balance(sales_client, customer, headers) == "7.00"


async def test_same_key_with_another_body_is_422_and_changes_nothing(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    admin = await make_account(isolated_database, settings, role=Role.admin)
    headers = {**bearer(admin, settings), "Idempotency-Key": "top-up-2"}
    await sales_client.post(top_ups(customer), json=credit("7.00"), headers=headers)
    response = await sales_client.post(top_ups(customer), json=credit("8.00"), headers=headers)
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert await entry_count(isolated_database, customer) == 1
    assert await balance(sales_client, customer, headers) == "7.00"


async def test_keys_are_scoped_per_caller_and_operation(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings, balance=Decimal("20.00"))
    admin = await make_account(isolated_database, settings, role=Role.admin)
    key = {"Idempotency-Key": "shared-key"}
    own = await sales_client.post(
        top_ups(customer), json={"amount": "1.00"}, headers={**bearer(customer, settings), **key}
    )
    by_admin = await sales_client.post(
        top_ups(customer), json=credit("1.00"), headers={**bearer(admin, settings), **key}
    )
    debit = await sales_client.post(
        debits(customer),
        json={"amount": "1.00", "reason": "x"},
        headers={**bearer(admin, settings), **key},
    )
    assert [r.status_code for r in (own, by_admin, debit)] == [201, 201, 201]
    assert (own.json()["status"], by_admin.json()["status"]) == ("pending", "succeeded")
    assert "idempotent-replayed" not in by_admin.headers
    # The opening balance, the store credit and the debit; the customer's top-up is pending.
    assert await entry_count(isolated_database, customer) == 3


async def test_a_request_still_in_flight_makes_duplicates_409(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    admin = await make_account(isolated_database, settings, role=Role.admin)
    headers = {**bearer(admin, settings), "Idempotency-Key": "slow-1"}
    first = await sales_client.post(top_ups(customer), json=credit("3.00"), headers=headers)
    # Turn the finished record back into a claim that is still running.
    async with isolated_database.session_factory() as session:
        await session.execute(
            update(IdempotencyRecord).values(status="in_flight", created_at=utcnow())
        )
        await session.commit()
    response = await sales_client.post(top_ups(customer), json=credit("3.00"), headers=headers)
    assert first.status_code == 201
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_flight"
    assert response.headers["retry-after"] == "1"
    assert await entry_count(isolated_database, customer) == 1


async def test_an_abandoned_claim_is_taken_over_after_the_lease(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    admin = await make_account(isolated_database, settings, role=Role.admin)
    headers = {**bearer(admin, settings), "Idempotency-Key": "crashed-1"}
    body = TopUp(amount=Decimal("3.00"), note=CREDIT_NOTE)
    async with isolated_database.session_factory() as session:
        # What a replica that died after claiming leaves behind: a claim and no side effect.
        session.add(
            IdempotencyRecord(
                scope=f"wallet.top_up:user:{customer.id}",
                idempotency_key="crashed-1",
                request_hash=request_fingerprint("POST", top_ups(customer), body),
                status="in_flight",
                claim_token="dead" * 8,
                created_at=utcnow() - timedelta(seconds=settings.idempotency_lease_seconds + 1),
                expires_at=utcnow() + timedelta(hours=23),
            )
        )
        await session.commit()
    response = await sales_client.post(top_ups(customer), json=credit("3.00"), headers=headers)
    assert response.status_code == 201
    assert await entry_count(isolated_database, customer) == 1


async def test_an_expired_key_is_treated_as_new(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    admin = await make_account(isolated_database, settings, role=Role.admin)
    headers = {**bearer(admin, settings), "Idempotency-Key": "old-1"}
    first = await sales_client.post(top_ups(customer), json=credit("2.00"), headers=headers)
    async with isolated_database.session_factory() as session:
        record = await session.scalar(select(IdempotencyRecord))
        assert record is not None
        assert record.expires_at - record.created_at == timedelta(hours=24)
        await session.execute(
            update(IdempotencyRecord).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    again = await sales_client.post(top_ups(customer), json=credit("5.00"), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] != first.json()["id"]
    assert await balance(sales_client, customer, headers) == "7.00"


async def test_a_failed_request_releases_its_key(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    admin = await make_account(isolated_database, settings, role=Role.admin)
    headers = {**bearer(admin, settings), "Idempotency-Key": "debit-early"}
    body = {"amount": "5.00", "reason": "fee"}
    refused = await sales_client.post(debits(customer), json=body, headers=headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "insufficient_funds"
    await sales_client.post(top_ups(customer), json=credit("5.00"), headers=bearer(admin, settings))
    retried = await sales_client.post(debits(customer), json=body, headers=headers)
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert await balance(sales_client, customer, headers) == "0.00"


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "del\x7fchar"])
async def test_malformed_keys_are_422_and_change_nothing(
    key: str, sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    admin = await make_account(isolated_database, settings, role=Role.admin)
    headers = {**bearer(admin, settings), "Idempotency-Key": key}
    response = await sales_client.post(top_ups(customer), json=credit("1.00"), headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["name"] == "Idempotency-Key"
    assert await entry_count(isolated_database, customer) == 0


@pytest.mark.mysql_only
async def test_twenty_concurrent_requests_with_one_key_make_one_entry(
    committed_sales_client: AsyncClient, committed_database: Database, settings: Settings
) -> None:
    customer = await make_account(committed_database, settings)
    admin = await make_account(committed_database, settings, role=Role.admin)
    headers = {**bearer(admin, settings), "Idempotency-Key": "storm-1"}
    responses = await asyncio.gather(
        *(
            committed_sales_client.post(top_ups(customer), json=credit("9.99"), headers=headers)
            for _ in range(20)
        )
    )
    statuses = Counter(response.status_code for response in responses)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[201] >= 1
    created = {response.json()["id"] for response in responses if response.status_code == 201}
    assert len(created) == 1
    for response in responses:
        if response.status_code == 409:
            assert response.json()["code"] == "idempotency_key_in_flight"
    assert await entry_count(committed_database, customer) == 1
    assert await balance(committed_sales_client, customer, headers) == "9.99"


async def test_keys_differing_only_in_case_are_two_keys(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    # MySQL's default collation folds case: `ORDER-AB` used to replay `order-ab`.
    customer = await make_account(isolated_database, settings)
    admin = bearer(await make_account(isolated_database, settings, role=Role.admin), settings)
    lower = await sales_client.post(
        top_ups(customer), json=credit("1.00"), headers={**admin, "Idempotency-Key": "order-ab"}
    )
    upper = await sales_client.post(
        top_ups(customer), json=credit("2.00"), headers={**admin, "Idempotency-Key": "ORDER-AB"}
    )
    assert (lower.status_code, upper.status_code) == (201, 201)
    assert "idempotent-replayed" not in upper.headers
    assert upper.json()["id"] != lower.json()["id"]
    assert await entry_count(isolated_database, customer) == 2
    assert await balance(sales_client, customer, admin) == "3.00"


@pytest.mark.parametrize("retried", ["5", "5.0", 5, 5.00])
async def test_the_same_amount_written_another_way_replays(
    retried: object, sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    headers = {
        **bearer(await make_account(isolated_database, settings, role=Role.admin), settings),
        "Idempotency-Key": "canonical-1",
    }
    first = await sales_client.post(top_ups(customer), json=credit("5.00"), headers=headers)
    again = await sales_client.post(
        top_ups(customer), json={"amount": retried, "note": CREDIT_NOTE}, headers=headers
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert first.json()["amount"] == "5.00"
    assert await entry_count(isolated_database, customer) == 1


def test_fingerprints_read_amounts_as_two_decimal_numbers() -> None:
    path = "/api/v1/customers/1/wallet/top-ups"
    same = {
        request_fingerprint("POST", path, TopUp.model_validate({"amount": amount, "note": "x"}))
        for amount in ("5", "5.0", "5.00", 5)
    }
    other = request_fingerprint("POST", path, TopUp.model_validate({"amount": "5.01", "note": "x"}))
    assert len(same) == 1
    assert other not in same
