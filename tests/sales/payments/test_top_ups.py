"""Top-ups as payments: pending until a provider settles them, credited exactly once, never
by a forged, tampered or stale callback; the free-money attack replayed."""

from __future__ import annotations

import asyncio
import base64
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select, update

from common.config import Settings
from common.db import Database, utcnow
from common.models.identity import Role, UserAccount, WalletEntry, WalletTopUp
from common.ops.sweeper import sweep
from sales_microservice.payments.providers import SignedCallbackProvider
from tests.fixtures.clients import client_for, make_products
from tests.fixtures.databases import PAYMENT_CALLBACK_SECRET
from tests.fixtures.factories import ORDERS, bearer, make_account, signed_callback
from tests.fixtures.ledgers import assert_ledgers_reconcile

CALLBACK = "/api/v1/payments/callbacks/gateway"


def wallet_url(account: UserAccount, tail: str = "") -> str:
    return f"/api/v1/customers/{account.id}/wallet{tail}"


async def ask_top_up(
    client: AsyncClient, customer: UserAccount, settings: Settings, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        wallet_url(customer, "/top-ups"), json=body, headers=bearer(customer, settings)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def deliver(client: AsyncClient, signed: tuple[bytes, dict[str, str]]) -> Any:
    body, headers = signed
    return await client.post(CALLBACK, content=body, headers=headers)


async def money_of(database: Database, customer: UserAccount) -> tuple[Decimal, int]:
    """The balance and the number of wallet entries."""
    async with database.session_factory() as session:
        balance = await session.scalar(
            select(UserAccount.wallet_balance).where(UserAccount.id == customer.id)
        )
        entries = await session.scalar(
            select(func.count()).select_from(WalletEntry).where(WalletEntry.user_id == customer.id)
        )
    assert balance is not None
    return balance, int(entries or 0)


async def status_of(client: AsyncClient, customer: UserAccount, settings: Settings) -> list[str]:
    page = await client.get(wallet_url(customer, "/top-ups"), headers=bearer(customer, settings))
    assert page.status_code == 200
    return [item["status"] for item in page.json()["items"]]


async def test_a_customers_top_up_is_a_pending_payment_that_changes_no_balance(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    before = utcnow()
    top_up = await ask_top_up(sales_client, customer, settings, amount="100000.00")
    assert (top_up["status"], top_up["amount"], top_up["provider"]) == (
        "pending",
        "100000.00",
        "gateway",
    )
    assert top_up["wallet_entry_id"] is None
    expires = top_up["expires_at"].replace("Z", "+00:00")
    ttl = timedelta(seconds=settings.payment_top_up_ttl_seconds)
    assert before + ttl <= type(before).fromisoformat(expires) <= utcnow() + ttl
    assert await money_of(isolated_database, customer) == (Decimal("0.00"), 0)
    assert await status_of(sales_client, customer, settings) == ["pending"]


async def test_a_signed_success_credits_once_however_often_it_is_delivered(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    top_up = await ask_top_up(sales_client, customer, settings, amount="25.00")
    signed = signed_callback(top_up["id"], "25.00")
    first = await deliver(sales_client, signed)
    assert first.status_code == 200, first.text
    assert (first.json()["status"], first.json()["id"]) == ("succeeded", top_up["id"])
    # The provider retries (same message) and re-sends (a new message id): no more money.
    again = await deliver(sales_client, signed)
    resent = await deliver(sales_client, signed_callback(top_up["id"], "25.00"))
    assert [r.status_code for r in (again, resent)] == [200, 200]
    assert again.json()["wallet_entry_id"] == first.json()["wallet_entry_id"] is not None
    assert await money_of(isolated_database, customer) == (Decimal("25.00"), 1)
    wallet = (
        await sales_client.get(wallet_url(customer), headers=bearer(customer, settings))
    ).json()
    entry = wallet["entries"][0]
    assert (entry["kind"], entry["reference"], entry["actor_id"]) == (
        "top_up",
        f"top_up:{top_up['id']}",
        None,
    )
    await assert_ledgers_reconcile(isolated_database)


WRONG_SECRET = "whsec_" + base64.b64encode(b"not-the-providers-secret-at-all").decode()


def _tampered(top_up_id: int) -> tuple[bytes, dict[str, str]]:
    body, headers = signed_callback(top_up_id, "25.00")
    return body.replace(b'"25.00"', b'"99999.00"'), headers


def _old(top_up_id: int) -> tuple[bytes, dict[str, str]]:
    return signed_callback(top_up_id, "25.00", timestamp=int(time.time()) - 6 * 60)


def _future(top_up_id: int) -> tuple[bytes, dict[str, str]]:
    return signed_callback(top_up_id, "25.00", timestamp=int(time.time()) + 6 * 60)


def _without(header: str) -> Any:
    def build(top_up_id: int) -> tuple[bytes, dict[str, str]]:
        body, headers = signed_callback(top_up_id, "25.00")
        return body, {k: v for k, v in headers.items() if k != header}

    return build


def _with(header: str, value: str) -> Any:
    def build(top_up_id: int) -> tuple[bytes, dict[str, str]]:
        body, headers = signed_callback(top_up_id, "25.00")
        return body, {**headers, header: value}

    return build


def _not_utf8(top_up_id: int) -> tuple[bytes, dict[str, str]]:
    body, headers = signed_callback(top_up_id, "25.00")
    return body + b"\xff", headers


FORGERIES = {
    "tampered body": _tampered,
    "wrong secret": lambda top_up_id: signed_callback(top_up_id, "25.00", secret=WRONG_SECRET),
    "old timestamp": _old,
    "future timestamp": _future,
    "no signature": _without("webhook-signature"),
    "no timestamp": _without("webhook-timestamp"),
    "no id": _without("webhook-id"),
    "garbage signature": _with("webhook-signature", "v1,not base64!"),
    "signature without version": _with("webhook-signature", "abc"),
    "signature of another scheme": _with("webhook-signature", "v2,AAAA"),
    "timestamp not a number": _with("webhook-timestamp", "soon"),
    "timestamp not finite": _with("webhook-timestamp", "nan"),
    "body not utf-8": _not_utf8,
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
async def test_a_forged_or_stale_callback_is_401_and_changes_nothing(
    forgery: str, sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings, balance=Decimal("3.00"))
    top_up = await ask_top_up(sales_client, customer, settings, amount="25.00")
    response = await deliver(sales_client, FORGERIES[forgery](top_up["id"]))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_signature"
    assert response.headers["www-authenticate"].startswith("Signature")
    assert await money_of(isolated_database, customer) == (Decimal("3.00"), 1)
    assert await status_of(sales_client, customer, settings) == ["pending"]


async def test_a_failed_payment_ends_the_top_up_without_credit(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    top_up = await ask_top_up(sales_client, customer, settings, amount="25.00")
    failed = await deliver(sales_client, signed_callback(top_up["id"], "25.00", outcome="failed"))
    assert (failed.status_code, failed.json()["status"]) == (200, "failed")
    late = await deliver(sales_client, signed_callback(top_up["id"], "25.00"))
    assert late.status_code == 409
    assert (late.json()["code"], late.json()["top_up_status"]) == ("top_up_not_pending", "failed")
    assert await money_of(isolated_database, customer) == (Decimal("0.00"), 0)
    assert await status_of(sales_client, customer, settings) == ["failed"]


async def test_an_expired_top_up_is_never_credited_and_the_sweeper_writes_it_down(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    top_up = await ask_top_up(sales_client, customer, settings, amount="25.00")
    async with isolated_database.session_factory() as session:
        await session.execute(
            update(WalletTopUp)
            .where(WalletTopUp.id == top_up["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    # Expired whether or not the sweeper ran: listed so, and a late success is refused.
    assert await status_of(sales_client, customer, settings) == ["expired"]
    late = await deliver(sales_client, signed_callback(top_up["id"], "25.00"))
    assert late.status_code == 409
    assert late.json()["top_up_status"] == "expired"
    result = await sweep(isolated_database, batch_size=10, settings=settings)
    assert result.top_ups_expired == 1
    async with isolated_database.session_factory() as session:
        stored = await session.get(WalletTopUp, top_up["id"])
        assert stored is not None
        assert (stored.status, stored.wallet_entry_id) == ("expired", None)
    assert await money_of(isolated_database, customer) == (Decimal("0.00"), 0)


async def test_a_callback_must_match_the_top_up_it_names(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    gateway = await ask_top_up(sales_client, customer, settings, amount="25.00")
    manual = await ask_top_up(sales_client, customer, settings, amount="25.00", provider="manual")
    cases = [
        (signed_callback(gateway["id"], "26.00"), 409, "top_up_amount_mismatch"),
        (signed_callback(manual["id"], "25.00"), 404, "top_up_not_found"),
        (signed_callback(gateway["id"] + 1000, "25.00"), 404, "top_up_not_found"),
    ]
    for signed, status, code in cases:
        response = await deliver(sales_client, signed)
        assert (response.status_code, response.json()["code"]) == (status, code)
    body, headers = signed_callback(gateway["id"], "25.00")
    other = await sales_client.post(
        "/api/v1/payments/callbacks/paypal", content=body, headers=headers
    )
    assert (other.status_code, other.json()["code"]) == (404, "payment_provider_not_found")
    assert await money_of(isolated_database, customer) == (Decimal("0.00"), 0)
    assert await status_of(sales_client, customer, settings) == ["pending", "pending"]


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        b'{"type": "top_up.refunded", "data": {"top_up_id": 1, "amount": "1.00"}}',
        b'{"type": "top_up.succeeded", "data": {"top_up_id": 99999999999, "amount": "1.00"}}',
        b'{"type": "top_up.succeeded", "data": {"top_up_id": 1, "amount": "1E2"}}',
        b'{"type": "top_up.succeeded"}',
    ],
)
async def test_a_signed_but_malformed_callback_is_422_and_changes_nothing(
    payload: bytes, sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    await ask_top_up(sales_client, customer, settings, amount="1.00")
    headers = SignedCallbackProvider(PAYMENT_CALLBACK_SECRET).sign(
        "msg_malformed", int(time.time()), payload
    )
    response = await sales_client.post(CALLBACK, content=payload, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_failed"
    assert await status_of(sales_client, customer, settings) == ["pending"]


async def test_an_admin_confirms_a_manual_top_up_once(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    admin = bearer(await make_account(isolated_database, settings, role=Role.admin), settings)
    top_up = await ask_top_up(sales_client, customer, settings, amount="40.00", provider="manual")
    confirm = wallet_url(customer, f"/top-ups/{top_up['id']}/confirm")
    first = await sales_client.post(confirm, headers=admin)
    again = await sales_client.post(confirm, headers=admin)
    assert [r.status_code for r in (first, again)] == [200, 200]
    assert first.json()["status"] == "succeeded"
    assert first.json()["settled_by_id"] is not None
    declined = await sales_client.post(
        wallet_url(customer, f"/top-ups/{top_up['id']}/decline"), headers=admin
    )
    assert (declined.status_code, declined.json()["code"]) == (409, "top_up_not_pending")
    # A customer cannot confirm their own payment.
    own = await sales_client.post(confirm, headers=bearer(customer, settings))
    assert own.status_code == 403
    assert await money_of(isolated_database, customer) == (Decimal("40.00"), 1)
    await assert_ledgers_reconcile(isolated_database)


async def test_a_declined_manual_top_up_credits_nothing(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    admin = bearer(await make_account(isolated_database, settings, role=Role.admin), settings)
    top_up = await ask_top_up(sales_client, customer, settings, amount="40.00", provider="manual")
    declined = await sales_client.post(
        wallet_url(customer, f"/top-ups/{top_up['id']}/decline"), headers=admin
    )
    assert (declined.status_code, declined.json()["status"]) == (200, "failed")
    confirmed = await sales_client.post(
        wallet_url(customer, f"/top-ups/{top_up['id']}/confirm"), headers=admin
    )
    assert confirmed.status_code == 409
    assert await money_of(isolated_database, customer) == (Decimal("0.00"), 0)


async def test_a_top_up_is_confirmed_under_its_own_customer_only(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    customer = await make_account(isolated_database, settings)
    other = await make_account(isolated_database, settings)
    admin = bearer(await make_account(isolated_database, settings, role=Role.admin), settings)
    top_up = await ask_top_up(sales_client, customer, settings, amount="40.00", provider="manual")
    response = await sales_client.post(
        wallet_url(other, f"/top-ups/{top_up['id']}/confirm"), headers=admin
    )
    assert (response.status_code, response.json()["code"]) == (404, "top_up_not_found")
    assert await money_of(isolated_database, customer) == (Decimal("0.00"), 0)


async def test_without_a_callback_secret_top_ups_default_to_manual(
    isolated_database: Database, settings: Settings
) -> None:
    unsigned = settings.model_copy(update={"payment_callback_secret": None})
    customer = await make_account(isolated_database, settings)
    async for client in client_for("sales", unsigned, isolated_database, as_=customer):
        top_up = await client.post(wallet_url(customer, "/top-ups"), json={"amount": "5.00"})
        assert (top_up.status_code, top_up.json()["provider"]) == (201, "manual")
        gateway = await client.post(
            wallet_url(customer, "/top-ups"), json={"amount": "5.00", "provider": "gateway"}
        )
        assert (gateway.status_code, gateway.json()["code"]) == (
            409,
            "payment_provider_unavailable",
        )
        body, headers = signed_callback(top_up.json()["id"], "5.00")
        callback = await client.post(CALLBACK, content=body, headers=headers)
        assert (callback.status_code, callback.json()["code"]) == (
            404,
            "payment_provider_not_found",
        )


async def test_free_money_attack_a_top_up_without_payment_buys_nothing(
    sales_client: AsyncClient, isolated_database: Database, settings: Settings
) -> None:
    # Issue 13, attack 1: a 0.00 customer "tops up" 100000.00 and pays orders with it.
    (product,) = await make_products(settings, isolated_database, 100, price="4.00")
    customer = await make_account(isolated_database, settings)
    await ask_top_up(sales_client, customer, settings, amount="100000.00")
    headers = bearer(customer, settings)
    order = await sales_client.post(
        ORDERS,
        json={"items": [{"product_id": product, "quantity": 10}], "shipping_address": "Here"},
        headers=headers,
    )
    assert order.status_code == 409
    assert order.json()["code"] == "insufficient_funds"
    assert await money_of(isolated_database, customer) == (Decimal("0.00"), 0)
    await assert_ledgers_reconcile(isolated_database)


@pytest.mark.mysql_only
async def test_twenty_concurrent_duplicate_deliveries_credit_once(
    committed_sales_client: AsyncClient, committed_database: Database, settings: Settings
) -> None:
    customer = await make_account(committed_database, settings, balance=Decimal("1.00"))
    top_up = await ask_top_up(committed_sales_client, customer, settings, amount="25.00")
    signed = signed_callback(top_up["id"], "25.00")
    responses = await asyncio.gather(*(deliver(committed_sales_client, signed) for _ in range(20)))
    outcomes = Counter((r.status_code, r.json().get("status")) for r in responses)
    assert outcomes == {(200, "succeeded"): 20}, [r.text for r in responses]
    assert len({r.json()["wallet_entry_id"] for r in responses}) == 1
    assert await money_of(committed_database, customer) == (Decimal("26.00"), 2)
    await assert_ledgers_reconcile(committed_database)


@pytest.mark.mysql_only
async def test_credits_callbacks_debits_and_orders_on_one_wallet_keep_the_books(
    committed_sales_client: AsyncClient, committed_database: Database, settings: Settings
) -> None:
    # Every writer of one wallet at once: store credits (account, then the top-up row),
    # callbacks (the top-up row, then the account), admin debits, orders placed and paid.
    # Their lock orders must not deadlock past the retries: no 500, no 503, books agree.
    (product,) = await make_products(settings, committed_database, 1000, price="1.00")
    customer = await make_account(committed_database, settings, balance=Decimal("20.00"))
    admin = bearer(await make_account(committed_database, settings, role=Role.admin), settings)
    own = bearer(customer, settings)
    pending = [
        await ask_top_up(committed_sales_client, customer, settings, amount="3.00")
        for _ in range(10)
    ]
    base = wallet_url(customer)

    async def credit() -> Any:
        body = {"amount": "2.00", "note": "load"}
        return await committed_sales_client.post(f"{base}/top-ups", json=body, headers=admin)

    async def debit() -> Any:
        body = {"amount": "1.50", "reason": "load"}
        return await committed_sales_client.post(f"{base}/debits", json=body, headers=admin)

    async def buy() -> Any:
        body = {"items": [{"product_id": product, "quantity": 1}], "shipping_address": "Here"}
        placed = await committed_sales_client.post(ORDERS, json=body, headers=own)
        if placed.status_code != 201:
            return placed
        return await committed_sales_client.post(f"{ORDERS}/{placed.json()['id']}/pay", headers=own)

    work = (
        [credit() for _ in range(20)]
        + [debit() for _ in range(20)]
        + [deliver(committed_sales_client, signed_callback(t["id"], "3.00")) for t in pending]
        + [deliver(committed_sales_client, signed_callback(t["id"], "3.00")) for t in pending]
        + [buy() for _ in range(12)]
    )
    responses = await asyncio.gather(*work)
    codes = Counter((r.status_code, r.json().get("code", "")) for r in responses)
    assert set(codes) <= {
        (200, ""),
        (201, ""),
        (409, "insufficient_funds"),
        (409, "too_many_pending_orders"),
    }, codes
    balance, _ = await money_of(committed_database, customer)
    assert balance >= 0
    assert await status_of(committed_sales_client, customer, settings) == (
        ["succeeded"] * 20 + ["succeeded"] * 10
    )
    await assert_ledgers_reconcile(committed_database)
