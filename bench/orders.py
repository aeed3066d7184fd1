"""`order`: a customer places an order and pays it, through the real sales service (two
requests: POST /orders reserves the stock, POST /orders/{id}/pay debits the wallet and books
the sale), next to the raw app doing the same core transaction in one request (conditional
stock UPDATE, guarded wallet UPDATE, then the order, line, movement, sale and payment rows).
"""

from __future__ import annotations

import argparse
import itertools
import random
import secrets
from decimal import Decimal

import httpx

from bench import api, harness
from common.identity.accounts import create_account
from common.identity.tokens import create_access_token
from common.inventory.audit import reconcile
from common.models.identity import Role, WalletEntryKind
from common.wallet.service import apply_wallet_change, reconcile_wallets

CUSTOMERS = 32
OPENING_BALANCE = Decimal("1000000.00")
ADDRESS = "1 Benchmark Street"


async def _customers(url: str) -> list[tuple[int, dict[str, str]]]:
    """Customers with deep wallets (ids and bearer headers), so no payment is refused."""
    settings = harness.settings_for(url)
    run = secrets.token_hex(4)
    customers = []
    async with api._database(url) as database, database.session_factory() as session:
        for number in range(CUSTOMERS):
            account = await create_account(
                session,
                email=f"bench-{run}-{number}@example.com",
                password=secrets.token_urlsafe(16),
                full_name=f"Bench Shopper {number}",
                phone=None,
                role=Role.customer,
                settings=settings,
            )
            await apply_wallet_change(
                session,
                user_id=account.id,
                amount=OPENING_BALANCE,
                kind=WalletEntryKind.top_up,
                actor_id=None,
                note="bench",
            )
            token = create_access_token(user_id=account.id, role=account.role, settings=settings)
            customers.append((account.id, {"Authorization": f"Bearer {token.token}"}))
        await session.commit()
    return customers


def _order_and_pay(customers: list[tuple[int, dict[str, str]]]) -> harness.Send:
    # Shoppers in turn, not at random: with as many clients as shoppers, each has about one
    # order in flight, never the ORDER_MAX_PENDING_PER_CUSTOMER that would be refused.
    turns = itertools.cycle(customers)

    async def send(client: httpx.AsyncClient, rng: random.Random) -> httpx.Response:
        _, headers = next(turns)
        body = {
            "items": [{"product_id": rng.randint(1, api.HOT_PRODUCTS), "quantity": 1}],
            "shipping_address": ADDRESS,
        }
        placed = await client.post("/api/v1/orders", json=body, headers=headers)
        if placed.status_code != 201:
            return placed
        return await client.post(f"/api/v1/orders/{placed.json()['id']}/pay", headers=headers)

    return send


def _raw_order(customers: list[tuple[int, dict[str, str]]]) -> harness.Send:
    async def send(client: httpx.AsyncClient, rng: random.Random) -> httpx.Response:
        customer_id, _ = rng.choice(customers)
        body = {
            "customer_id": customer_id,
            "product_id": rng.randint(1, api.HOT_PRODUCTS),
            "quantity": 1,
            "shipping_address": ADDRESS,
        }
        return await client.post("/orders", json=body)

    return send


async def _ledger_problems(url: str) -> int:
    async with api._database(url) as database, database.session_factory() as session:
        return len(await reconcile(session)) + len(await reconcile_wallets(session))


async def run(args: argparse.Namespace) -> None:
    url = await api.store(args)
    await api._restock_hot_products(url, units=2 * (args.requests + 100))
    customers = await _customers(url)
    service = api.Contender(
        "POST /orders + POST /orders/{id}/pay", api.SALES_APP, _order_and_pay(customers)
    )
    raw = api.Contender("raw one-transaction order + payment", api.RAW_APP, _raw_order(customers))
    # The service first, so its run is checked against the ledgers before anything else
    # writes; the raw baseline books through the same tables and leaves them reconciled too
    # (only the sales rollups, which it does not maintain, fall behind: `rebuild-rollups`).
    result = await api._measure(args, url, service, concurrency=api.SALE_CLIENTS)
    problems = await _ledger_problems(url)
    baseline = await api._measure(args, url, raw, concurrency=api.SALE_CLIENTS)
    ratio = result.rps / baseline.rps
    harness.print_table(
        f"order: {api.SALE_CLIENTS} clients, {CUSTOMERS} customers ordering and paying 1 unit "
        f"of {api.HOT_PRODUCTS} hot products (one row = one order, placed and paid)",
        [baseline, result],
        baseline=baseline,
        ratio="throughput",
        notes=f"service at {ratio:.2f}x of the raw transaction (the service makes two requests "
        "and two transactions per order, with auth, idempotency, reservation and status "
        f"history); stock and wallet ledgers after the service's run: "
        f"{'reconciled' if problems == 0 else f'{problems} problems'}",
    )
