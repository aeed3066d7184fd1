"""Orders through HTTP: stock, reservation, wallet, sales and rollups checked at every step."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import func, select

from common.config import Settings
from common.db import Database, utcnow
from common.inventory.audit import reconcile
from common.models.identity import UserAccount, WalletEntry
from common.models.inventory import StockReservation
from common.models.orders import CustomerOrder
from common.models.sales import Sale
from common.wallet.service import reconcile_wallets
from sales_microservice.main import build_app as build_sales_app
from tests.fixtures.clients import serve
from tests.fixtures.factories import Catalog, bearer, make_account, money
from tests.fixtures.ledgers import raw_totals, rollup_totals

ORDERS = "/api/v1/orders"


@dataclass
class Shop:
    """A customer with a wallet, two products, and both services."""

    catalog: Catalog
    sales: AsyncClient
    admin: AsyncClient
    database: Database
    customer: UserAccount
    headers: dict[str, str]
    widget: int  # 10.00, 10 in stock
    gadget: int  # 2.50, 5 in stock

    async def order(self, *items: tuple[int, int], **extra: Any) -> Response:
        body = {
            "items": [{"product_id": p, "quantity": q} for p, q in items],
            "shipping_address": "1 Main Street",
            **extra,
        }
        return await self.sales.post(ORDERS, json=body, headers=self.headers)

    async def act(self, order_id: int, action: str, body: Any = None) -> Response:
        return await self.sales.post(
            f"{ORDERS}/{order_id}/{action}", json=body, headers=self.headers
        )

    async def stock(self, product_id: int) -> tuple[int, int, int]:
        """(on hand, reserved, available) as the products service reports them."""
        body = (await self.catalog.client.get(f"/api/v1/products/{product_id}/inventory")).json()
        return body["on_hand"], body["reserved"], body["available"]

    async def balance(self, account: UserAccount | None = None) -> Decimal:
        async with self.database.session_factory() as session:
            value = await session.scalar(
                select(UserAccount.wallet_balance).where(
                    UserAccount.id == (account or self.customer).id
                )
            )
        assert value is not None
        return value

    async def sales_of(self, order_id: int) -> list[tuple[str, int, int, Decimal]]:
        async with self.database.session_factory() as session:
            rows = await session.execute(
                select(Sale.kind, Sale.product_id, Sale.quantity, Sale.unit_price)
                .where(Sale.order_id == order_id)
                .order_by(Sale.id)
            )
            return [tuple(row) for row in rows]  # type: ignore[misc]

    async def ledgers_reconcile(self) -> None:
        async with self.database.session_factory() as session:
            assert await reconcile(session) == []
            assert await reconcile_wallets(session) == []
            assert await rollup_totals(session) == await raw_totals(session)


@pytest.fixture
async def shop(
    catalog: Catalog,
    sales_client: AsyncClient,
    admin_sales_client: AsyncClient,
    isolated_database: Database,
    settings: Settings,
) -> Shop:
    category = await catalog.category()
    customer = await make_account(isolated_database, settings, balance=Decimal("100.00"))
    return Shop(
        catalog=catalog,
        sales=sales_client,
        admin=admin_sales_client,
        database=isolated_database,
        customer=customer,
        headers=bearer(customer, settings),
        widget=await catalog.product(category_id=category, price="10.00", stock=10),
        gadget=await catalog.product(category_id=category, price="2.50", stock=5),
    )


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_lifecycle_place_pay_ship_deliver(shop: Shop) -> None:
    # Client prices are ignored: the store's prices are snapshotted.
    placed = await shop.sales.post(
        ORDERS,
        json={
            "items": [
                {"product_id": shop.widget, "quantity": 2, "unit_price": "0.01"},
                {"product_id": shop.gadget, "quantity": 3},
            ],
            "shipping_address": "1 Main Street",
            "notes": "leave at the door",
        },
        headers=shop.headers,
    )
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["status"] == "pending"
    assert order["customer_id"] == shop.customer.id
    assert money(order["total"]) == money("27.50")
    assert [(i["product_id"], i["quantity"], money(i["unit_price"]), money(i["line_total"]))
            for i in order["items"]] == [
        (shop.widget, 2, money("10.00"), money("20.00")),
        (shop.gadget, 3, money("2.50"), money("7.50")),
    ]  # fmt: skip
    lifetime = _instant(order["expires_at"]) - _instant(order["created_at"])
    assert timedelta(seconds=899) <= lifetime <= timedelta(seconds=901)
    assert await shop.stock(shop.widget) == (10, 2, 8)
    assert await shop.stock(shop.gadget) == (5, 3, 2)
    assert await shop.balance() == money("100.00")
    assert await shop.sales_of(order["id"]) == []

    paid = await shop.act(order["id"], "pay")
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    assert paid.json()["paid_at"] is not None
    assert await shop.balance() == money("72.50")
    assert await shop.stock(shop.widget) == (8, 0, 8)
    assert await shop.stock(shop.gadget) == (2, 0, 2)
    assert await shop.sales_of(order["id"]) == [
        ("sale", shop.widget, 2, money("10.00")),
        ("sale", shop.gadget, 3, money("2.50")),
    ]
    async with shop.database.session_factory() as session:
        payment = (
            await session.execute(
                select(WalletEntry.kind, WalletEntry.amount, WalletEntry.reference).where(
                    WalletEntry.user_id == shop.customer.id, WalletEntry.kind == "payment"
                )
            )
        ).one()
        reservation = await session.get(StockReservation, order["reservation_id"])
        assert reservation is not None
        assert reservation.status == "confirmed"
    assert tuple(payment) == ("payment", money("-27.50"), f"order:{order['id']}")
    summary = (await shop.admin.get("/api/v1/analytics/summary")).json()
    assert summary  # analytics answer; the rollup itself is compared with the raw rows:
    await shop.ledgers_reconcile()

    for status in ("shipped", "delivered"):
        moved = await shop.admin.post(
            f"{ORDERS}/{order['id']}/status", json={"status": status, "note": f"now {status}"}
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == status

    refused = await shop.act(order["id"], "cancel", {"reason": "too late"})
    assert refused.status_code == 409
    assert refused.json()["code"] == "order_not_cancellable"

    history = await shop.sales.get(f"{ORDERS}/{order['id']}/history", headers=shop.headers)
    assert [(h["from_status"], h["to_status"]) for h in history.json()] == [
        (None, "pending"),
        ("pending", "paid"),
        ("paid", "shipped"),
        ("shipped", "delivered"),
    ]
    assert history.json()[0]["actor_id"] == shop.customer.id
    assert history.json()[2]["reason"] == "now shipped"
    assert await shop.balance() == money("72.50")
    await shop.ledgers_reconcile()


async def test_cancelling_a_paid_order_refunds_money_stock_and_sales(shop: Shop) -> None:
    order = (await shop.order((shop.widget, 3), (shop.gadget, 1))).json()
    assert (await shop.act(order["id"], "pay")).status_code == 200
    assert await shop.balance() == money("67.50")

    refunded = await shop.act(order["id"], "cancel", {"reason": "changed my mind"})
    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["status"] == "refunded"
    assert await shop.balance() == money("100.00")
    assert await shop.stock(shop.widget) == (10, 0, 10)
    assert await shop.stock(shop.gadget) == (5, 0, 5)
    assert await shop.sales_of(order["id"]) == [
        ("sale", shop.widget, 3, money("10.00")),
        ("sale", shop.gadget, 1, money("2.50")),
        ("refund", shop.widget, -3, money("10.00")),
        ("refund", shop.gadget, -1, money("2.50")),
    ]
    again = await shop.act(order["id"], "cancel", {"reason": "twice"})
    assert again.json()["code"] == "order_not_cancellable"
    assert await shop.balance() == money("100.00")
    await shop.ledgers_reconcile()


async def test_cancelling_a_pending_order_releases_the_stock(shop: Shop) -> None:
    order = (await shop.order((shop.widget, 4))).json()
    assert await shop.stock(shop.widget) == (10, 4, 6)
    cancelled = await shop.act(order["id"], "cancel", {"reason": "oops"})
    assert cancelled.json()["status"] == "cancelled"
    assert await shop.stock(shop.widget) == (10, 0, 10)
    pay = await shop.act(order["id"], "pay")
    assert pay.status_code == 409
    assert pay.json()["code"] == "order_not_pending"
    assert await shop.balance() == money("100.00")
    assert await shop.sales_of(order["id"]) == []


async def test_paying_without_funds_is_409_and_changes_nothing(
    shop: Shop, isolated_database: Database, settings: Settings
) -> None:
    poor = await make_account(isolated_database, settings, balance=Decimal("10.00"))
    shop.customer, shop.headers = poor, bearer(poor, settings)
    order = (await shop.order((shop.widget, 1))).json()
    # The money went elsewhere between placing the order and paying it.
    debit = await shop.admin.post(
        f"/api/v1/customers/{poor.id}/wallet/debits", json={"amount": "5.00", "reason": "fee"}
    )
    assert debit.status_code == 201
    refused = await shop.act(order["id"], "pay")
    assert refused.status_code == 409
    assert refused.json()["code"] == "insufficient_funds"
    assert await shop.balance() == money("5.00")
    assert await shop.sales_of(order["id"]) == []
    assert await shop.stock(shop.widget) == (10, 1, 9)
    current = await shop.sales.get(f"{ORDERS}/{order['id']}", headers=shop.headers)
    assert current.json()["status"] == "pending"
    await shop.ledgers_reconcile()


async def test_placing_an_order_beyond_the_balance_is_409_and_holds_nothing(
    shop: Shop, isolated_database: Database, settings: Settings
) -> None:
    poor = await make_account(isolated_database, settings, balance=Decimal("9.99"))
    shop.customer, shop.headers = poor, bearer(poor, settings)
    refused = await shop.order((shop.widget, 1))
    assert refused.status_code == 409
    body = refused.json()
    assert (body["code"], body["balance"], body["requested"]) == (
        "insufficient_funds",
        "9.99",
        "10.00",
    )
    assert await shop.stock(shop.widget) == (10, 0, 10)
    listed = (await shop.sales.get(ORDERS, headers=shop.headers)).json()
    assert listed["total"] == 0
    async with isolated_database.session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(StockReservation)) == 0
    # Exactly the balance is enough.
    assert (await shop.order((shop.gadget, 3))).status_code == 201
    await shop.ledgers_reconcile()


async def test_hoarding_attack_a_customer_without_money_cannot_hold_the_stock(
    shop: Shop, isolated_database: Database, settings: Settings
) -> None:
    # Issue 13, attack 5: a 0.00 customer ordered all the stock, held it for 15 minutes and
    # showed it out of stock to everyone else, again and again.
    broke = await make_account(isolated_database, settings)
    for _ in range(3):
        response = await shop.sales.post(
            ORDERS,
            json={"items": [{"product_id": shop.widget, "quantity": 10}], "shipping_address": "X"},
            headers=bearer(broke, settings),
        )
        assert response.status_code == 409
        assert response.json()["code"] == "insufficient_funds"
    assert await shop.stock(shop.widget) == (10, 0, 10)
    product = (await shop.catalog.client.get(f"/api/v1/products/{shop.widget}")).json()
    assert product["stock_on_hand"] == 10
    # Everyone else still buys.
    bought = await shop.order((shop.widget, 10))
    assert bought.status_code == 201
    await shop.ledgers_reconcile()


async def test_pending_orders_per_customer_are_capped(
    shop: Shop, isolated_database: Database, settings: Settings
) -> None:
    cap = settings.order_max_pending_per_customer
    placed = [await shop.order((shop.gadget, 1)) for _ in range(cap)]
    assert [r.status_code for r in placed] == [201] * cap
    refused = await shop.order((shop.gadget, 1))
    assert refused.status_code == 409
    assert (refused.json()["code"], refused.json()["limit"]) == ("too_many_pending_orders", cap)
    assert await shop.stock(shop.gadget) == (5, cap, 5 - cap)
    # Paying or cancelling one makes room for the next.
    assert (await shop.act(placed[0].json()["id"], "pay")).status_code == 200
    assert (await shop.order((shop.gadget, 1))).status_code == 201
    # Another customer is not affected by this one's pending orders.
    other = await make_account(isolated_database, settings, balance=Decimal("10.00"))
    theirs = await shop.sales.post(
        ORDERS,
        json={"items": [{"product_id": shop.widget, "quantity": 1}], "shipping_address": "Y"},
        headers=bearer(other, settings),
    )
    assert theirs.status_code == 201
    await shop.ledgers_reconcile()


async def test_more_than_available_is_409_naming_each_short_product(shop: Shop) -> None:
    first = await shop.order((shop.widget, 8))
    assert first.status_code == 201
    refused = await shop.order((shop.widget, 3), (shop.gadget, 6))
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "insufficient_stock"
    assert body["shortages"] == [
        {"product_id": shop.widget, "requested": 3, "available": 2},
        {"product_id": shop.gadget, "requested": 6, "available": 5},
    ]
    # All or nothing: the gadget line that would have fitted holds nothing either.
    assert await shop.stock(shop.gadget) == (5, 0, 5)
    assert await shop.stock(shop.widget) == (10, 8, 2)


async def test_reserved_units_cannot_be_sold_or_removed_by_others(shop: Shop) -> None:
    await shop.order((shop.gadget, 4))
    sale = await shop.admin.post("/api/v1/sales", json={"product_id": shop.gadget, "quantity": 2})
    assert sale.status_code == 409
    assert sale.json()["code"] == "insufficient_stock"
    assert sale.json()["available"] == 1
    removal = await shop.catalog.client.post(
        f"/api/v1/products/{shop.gadget}/inventory/adjustments",
        json={"delta": -2, "kind": "damage"},
    )
    assert removal.status_code == 409
    one = await shop.admin.post("/api/v1/sales", json={"product_id": shop.gadget, "quantity": 1})
    assert one.status_code == 201
    assert await shop.stock(shop.gadget) == (4, 4, 0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [], "shipping_address": "x"}, "items"),
        ({"items": [{"product_id": 1, "quantity": 0}], "shipping_address": "x"}, "items"),
        (
            {"items": [{"product_id": 1, "quantity": 1}], "shipping_address": " "},
            "shipping_address",
        ),
        ({"items": [{"product_id": 1, "quantity": 1}]}, "shipping_address"),
        ({"items": "all", "shipping_address": "x"}, "items"),
    ],
)
async def test_malformed_orders_are_422(shop: Shop, body: dict[str, Any], field: str) -> None:
    response = await shop.sales.post(ORDERS, json=body, headers=shop.headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any(field in str(error) for error in response.json()["errors"])


async def test_bad_lines_are_refused_and_change_nothing(shop: Shop) -> None:
    too_many = [(shop.widget, 1)] * 101
    duplicate = await shop.order((shop.widget, 1), (shop.widget, 2))
    unknown = await shop.order((shop.widget, 1), (2_000_000_000, 1))
    await shop.catalog.archive(shop.gadget)
    archived = await shop.order((shop.gadget, 1))
    assert (await shop.order(*too_many)).status_code == 422
    assert duplicate.status_code == 422
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_product")
    assert (archived.status_code, archived.json()["code"]) == (409, "product_archived")
    async with shop.database.session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(CustomerOrder)) == 0
        assert await session.scalar(select(func.count()).select_from(StockReservation)) == 0
    assert await shop.stock(shop.widget) == (10, 0, 10)


async def test_another_customers_order_is_404(
    shop: Shop, isolated_database: Database, settings: Settings
) -> None:
    order = (await shop.order((shop.widget, 1))).json()
    other = bearer(await make_account(isolated_database, settings, balance=money(50)), settings)
    for method, tail, body in [
        ("GET", "", None),
        ("GET", "/history", None),
        ("POST", "/pay", None),
        ("POST", "/cancel", {"reason": "not mine"}),
    ]:
        response = await shop.sales.request(
            method, f"{ORDERS}/{order['id']}{tail}", json=body, headers=other
        )
        assert response.status_code == 404
        assert response.json()["code"] == "order_not_found"
    assert await shop.stock(shop.widget) == (10, 1, 9)


async def test_admin_orders_for_a_customer(shop: Shop) -> None:
    body = {"items": [{"product_id": shop.widget, "quantity": 1}], "shipping_address": "A"}
    missing = await shop.admin.post(ORDERS, json=body)
    assert missing.status_code == 422
    unknown = await shop.admin.post(ORDERS, json={**body, "customer_id": 2_000_000_000})
    assert unknown.json()["code"] == "unknown_customer"
    placed = await shop.admin.post(ORDERS, json={**body, "customer_id": shop.customer.id})
    assert placed.status_code == 201
    assert placed.json()["customer_id"] == shop.customer.id
    # And a customer cannot place one for somebody else.
    foreign = await shop.order((shop.widget, 1), customer_id=placed.json()["id"] + 10_000)
    assert foreign.status_code == 403


async def test_only_paid_shipped_delivered_by_hand(shop: Shop) -> None:
    order = (await shop.order((shop.widget, 1))).json()
    url = f"{ORDERS}/{order['id']}/status"
    early = await shop.admin.post(url, json={"status": "shipped"})
    assert early.status_code == 409
    assert (early.json()["code"], early.json()["allowed"]) == ("invalid_transition", [])
    await shop.act(order["id"], "pay")
    skip = await shop.admin.post(url, json={"status": "delivered"})
    assert (skip.json()["code"], skip.json()["allowed"]) == ("invalid_transition", ["shipped"])
    back = await shop.admin.post(url, json={"status": "pending"})
    assert back.status_code == 409
    bad = await shop.admin.post(url, json={"status": "teleported"})
    assert bad.status_code == 422
    customer = await shop.sales.post(url, json={"status": "shipped"}, headers=shop.headers)
    assert customer.status_code == 403
    current = await shop.sales.get(f"{ORDERS}/{order['id']}", headers=shop.headers)
    assert current.json()["status"] == "paid"


async def test_lists_show_customers_their_own_and_admins_everything(
    shop: Shop, isolated_database: Database, settings: Settings
) -> None:
    mine = [(await shop.order((shop.widget, 1))).json()["id"] for _ in range(2)]
    await shop.act(mine[0], "pay")
    other = await make_account(isolated_database, settings, balance=Decimal("10.00"))
    theirs = await shop.sales.post(
        ORDERS,
        json={"items": [{"product_id": shop.gadget, "quantity": 1}], "shipping_address": "B"},
        headers=bearer(other, settings),
    )
    own = (await shop.sales.get(ORDERS, headers=shop.headers)).json()
    assert [o["id"] for o in own["items"]] == mine[::-1]
    assert own["total"] == 2
    via_customer = await shop.sales.get(
        f"/api/v1/customers/{shop.customer.id}/orders", headers=shop.headers
    )
    assert [o["id"] for o in via_customer.json()["items"]] == mine[::-1]
    paid = (await shop.admin.get(ORDERS, params={"status": "paid"})).json()
    assert [o["id"] for o in paid["items"]] == [mine[0]]
    by_other = (await shop.admin.get(ORDERS, params={"customer_id": other.id})).json()
    assert [o["id"] for o in by_other["items"]] == [theirs.json()["id"]]
    later = (utcnow() + timedelta(hours=1)).isoformat()
    assert (await shop.admin.get(ORDERS, params={"start": later})).json()["total"] == 0
    peek = await shop.sales.get(ORDERS, params={"customer_id": other.id}, headers=shop.headers)
    assert peek.status_code == 403
    backwards = await shop.admin.get(ORDERS, params={"start": later, "end": utcnow().isoformat()})
    assert backwards.status_code == 422


async def test_idempotency_key_places_one_order(shop: Shop) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4()), **shop.headers}
    body = {"items": [{"product_id": shop.widget, "quantity": 2}], "shipping_address": "C"}
    first = await shop.sales.post(ORDERS, json=body, headers=key)
    second = await shop.sales.post(ORDERS, json=body, headers=key)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert await shop.stock(shop.widget) == (10, 2, 8)
    pay_key = {"Idempotency-Key": str(uuid.uuid4()), **shop.headers}
    url = f"{ORDERS}/{first.json()['id']}/pay"
    assert (await shop.sales.post(url, headers=pay_key)).status_code == 200
    assert (await shop.sales.post(url, headers=pay_key)).status_code == 200
    assert await shop.balance() == money("80.00")


async def test_customer_with_an_open_order_cannot_be_deactivated(shop: Shop) -> None:
    order = (await shop.order((shop.widget, 1))).json()
    drained = await shop.admin.post(
        f"/api/v1/customers/{shop.customer.id}/wallet/debits",
        json={"amount": "100.00", "reason": "payout"},
    )
    assert drained.status_code == 201
    refused = await shop.admin.delete(f"/api/v1/customers/{shop.customer.id}")
    assert refused.status_code == 409
    assert refused.json()["code"] == "open_orders"
    await shop.act(order["id"], "cancel", {"reason": "closing the account"})
    deactivated = await shop.admin.delete(f"/api/v1/customers/{shop.customer.id}")
    assert deactivated.status_code == 204


async def test_expired_order_cannot_be_paid_even_unswept(
    shop: Shop, isolated_database: Database, settings: Settings
) -> None:
    """No sweeper runs here: expiry alone releases the stock and refuses payment."""
    quick = build_sales_app(
        settings=settings.model_copy(update={"order_reservation_ttl": 1}),
        database=isolated_database,
    )
    async for client in serve(quick, "http://sales.test"):
        shop.sales = client
        order = (await shop.order((shop.widget, 2))).json()
        assert await shop.stock(shop.widget) == (10, 2, 8)
        await asyncio.sleep(1.2)
        assert await shop.stock(shop.widget) == (10, 0, 10)
        current = await shop.sales.get(f"{ORDERS}/{order['id']}", headers=shop.headers)
        assert current.json()["status"] == "expired"
        listed = await shop.sales.get(ORDERS, params={"status": "expired"}, headers=shop.headers)
        assert [o["id"] for o in listed.json()["items"]] == [order["id"]]
        refused = await shop.act(order["id"], "pay")
        assert refused.status_code == 409
        assert refused.json()["code"] == "order_expired"
        cancel = await shop.act(order["id"], "cancel", {"reason": "late"})
        assert cancel.json()["code"] == "order_expired"
    assert await shop.balance() == money("100.00")
    assert await shop.sales_of(order["id"]) == []


async def test_an_orders_reservation_follows_the_order(shop: Shop) -> None:
    order = (await shop.order((shop.widget, 2))).json()
    url = f"/api/v1/inventory/reservations/{order['reservation_id']}"
    for action in ("confirm", "release"):
        refused = await shop.catalog.client.post(f"{url}/{action}")
        assert refused.status_code == 409
        assert refused.json()["code"] == "reservation_owned_by_order"
    assert await shop.stock(shop.widget) == (10, 2, 8)
    assert (await shop.catalog.client.get(url)).json()["reference"] == f"order:{order['id']}"
