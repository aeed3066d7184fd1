"""Every operation of both OpenAPI specs, called anonymously, as a customer, as another
customer and as an admin, must answer exactly as `RULES` says.

The test walks the specs, so a new route without a rule (or with a rule its guard does not
enforce) fails here. Catalog routes join the table when the catalog branch is merged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI

from common.config import Settings
from common.db import Database
from common.db.types import utcnow
from common.identity.access import Principal
from common.models.identity import Role, UserAccount
from common.models.review import Review, ReviewStatus
from common.reservations.service import Hold, reserve_stock
from common.sales.service import record_sale
from products_microservice.catalog.schemas import CategoryCreate, ProductCreate
from products_microservice.catalog.service import create_category, create_product
from products_microservice.main import build_app as build_products_app
from sales_microservice.main import build_app as build_sales_app
from sales_microservice.orders.schemas import OrderCreate
from sales_microservice.orders.service import create_order, pay_order
from tests.conftest import serve
from tests.factories import PASSWORD, bearer, make_account, refresh_token_for, unique_email

# "owner": the customer's own resource; another customer gets 404 (its existence is private).
# "customer": only customers may call it (admins get 403), e.g. writing a review.
Access = Literal["public", "user", "customer", "self", "owner", "admin"]
Caller = Literal["anonymous", "stranger", "customer", "admin"]
CALLERS: tuple[Caller, ...] = ("anonymous", "stranger", "customer", "admin")


@dataclass
class Context:
    customer: UserAccount
    stranger: UserAccount
    admin: UserAccount
    headers: dict[Caller, dict[str, str]]
    category_id: int
    category_name: str
    empty_category_id: int
    product_id: int
    sale_id: int
    # The customer's approved review, of another product than `product_id` (so the customer
    # may still review that one).
    review_id: int
    reservation_id: int
    pending_order_id: int
    paid_order_id: int
    refresh_tokens: dict[Caller, str] = field(default_factory=dict)


Payload = Callable[[Context, Caller], dict[str, Any]]


@dataclass(frozen=True)
class Rule:
    access: Access
    ok: int
    json: Payload | None = None
    form: Payload | None = None
    files: Payload | None = None
    # Whose id fills `{customer_id}`: the customer's, or the stranger's (for routes whose
    # success would get in the way of the other callers, e.g. deactivation).
    target: Literal["customer", "stranger"] = "customer"
    # Which category fills `{category_id}`: one with a product, or an empty one (deletable).
    category: Literal["stocked", "empty"] = "stocked"
    # A fresh context for every caller, for routes whose success removes what the next caller
    # would act on (deleting a review).
    fresh_per_caller: bool = False
    # Which of the customer's orders fills `{order_id}`.
    order: Literal["pending", "paid"] = "pending"
    # What the admin gets after the customer already succeeded (e.g. paying twice is 409).
    admin_after_customer: int | None = None


def _refresh(ctx: Context, caller: Caller) -> dict[str, Any]:
    return {"refresh_token": ctx.refresh_tokens[caller]}


def _new_account(ctx: Context, caller: Caller) -> dict[str, Any]:
    return {"email": unique_email(caller), "password": PASSWORD, "full_name": "New Person"}


def _category(ctx: Context, caller: Caller) -> dict[str, Any]:
    return {"name": f"Matrix {caller} {uuid.uuid4().hex[:8]}"}


def _product(ctx: Context, caller: Caller) -> dict[str, Any]:
    return {
        "sku": f"MATRIX-{uuid.uuid4().hex[:10]}",
        "name": "Matrix product",
        "category_id": ctx.category_id,
        "price": "12.50",
        "initial_stock": 5,
    }


def _catalog_file(ctx: Context, caller: Caller) -> dict[str, Any]:
    sku = f"MATRIX-{uuid.uuid4().hex[:10]}"
    content = f"sku,name,category,price\n{sku},Imported,{ctx.category_name},2.50\n"
    return {"file": ("catalog.csv", content.encode(), "text/csv")}


def _sale(ctx: Context, caller: Caller) -> dict[str, Any]:
    return {"product_id": ctx.product_id, "quantity": 1}


def _reservation(ctx: Context, caller: Caller) -> dict[str, Any]:
    return {"items": [{"product_id": ctx.product_id, "quantity": 1}], "ttl_seconds": 60}


def _order(ctx: Context, caller: Caller) -> dict[str, Any]:
    body: dict[str, Any] = {
        "items": [{"product_id": ctx.product_id, "quantity": 1}],
        "shipping_address": "1 Matrix Way",
    }
    if caller == "admin":
        body["customer_id"] = ctx.customer.id
    return body


RULES: dict[str, Rule] = {
    "GET /health": Rule("public", 200),
    "GET /ready": Rule("public", 200),
    "POST /auth/token": Rule(
        "public", 200, form=lambda ctx, _: {"username": ctx.customer.email, "password": PASSWORD}
    ),
    "POST /auth/refresh": Rule("public", 200, json=_refresh),
    "POST /auth/logout": Rule("public", 204, json=_refresh),
    "GET /auth/me": Rule("user", 200),
    "POST /api/v1/auth/register": Rule("public", 201, json=_new_account),
    "GET /api/v1/customers": Rule("admin", 200),
    "POST /api/v1/customers": Rule("admin", 201, json=_new_account),
    "GET /api/v1/customers/{customer_id}": Rule("self", 200),
    "PATCH /api/v1/customers/{customer_id}": Rule(
        "self", 200, json=lambda *_: {"full_name": "Renamed Person"}
    ),
    "DELETE /api/v1/customers/{customer_id}": Rule("admin", 204, target="stranger"),
    "GET /api/v1/customers/{customer_id}/wallet": Rule("self", 200),
    "GET /api/v1/customers/{customer_id}/wallet/entries": Rule("self", 200),
    "POST /api/v1/customers/{customer_id}/wallet/top-ups": Rule(
        "self", 201, json=lambda *_: {"amount": "5.00"}
    ),
    "POST /api/v1/customers/{customer_id}/wallet/debits": Rule(
        "admin", 201, json=lambda *_: {"amount": "1.00", "reason": "auth matrix"}
    ),
    # Catalog reads are public; writes and the inventory ledger are for admins.
    "GET /api/v1/categories": Rule("public", 200),
    "POST /api/v1/categories": Rule("admin", 201, json=_category),
    "GET /api/v1/categories/{category_id}": Rule("public", 200),
    "PATCH /api/v1/categories/{category_id}": Rule(
        "admin", 200, json=lambda *_: {"description": "patched by the matrix"}
    ),
    "DELETE /api/v1/categories/{category_id}": Rule("admin", 204, category="empty"),
    "GET /api/v1/products": Rule("public", 200),
    "POST /api/v1/products": Rule("admin", 201, json=_product),
    "GET /api/v1/products/{product_id}": Rule("public", 200),
    "PATCH /api/v1/products/{product_id}": Rule(
        "admin", 200, json=lambda *_: {"name": "Renamed by the matrix"}
    ),
    "DELETE /api/v1/products/{product_id}": Rule("admin", 204),
    "POST /api/v1/products/{product_id}/inventory/adjustments": Rule(
        "admin", 201, json=lambda *_: {"delta": 3, "kind": "restock"}
    ),
    "GET /api/v1/products/{product_id}/inventory": Rule("admin", 200),
    "GET /api/v1/products/{product_id}/inventory/movements": Rule("admin", 200),
    "GET /api/v1/products/{product_id}/inventory/levels": Rule("admin", 200),
    "GET /api/v1/inventory": Rule("admin", 200),
    "GET /api/v1/inventory/low-stock": Rule("admin", 200),
    "GET /api/v1/inventory/summary": Rule("admin", 200),
    "POST /api/v1/inventory/reservations": Rule("admin", 201, json=_reservation),
    "GET /api/v1/inventory/reservations/{reservation_id}": Rule("admin", 200),
    "POST /api/v1/inventory/reservations/{reservation_id}/confirm": Rule("admin", 200),
    "POST /api/v1/inventory/reservations/{reservation_id}/release": Rule("admin", 200),
    # Orders: customers place and see their own; admins act for any customer.
    "POST /api/v1/orders": Rule("user", 201, json=_order),
    "GET /api/v1/orders": Rule("user", 200),
    "GET /api/v1/orders/{order_id}": Rule("owner", 200),
    "GET /api/v1/orders/{order_id}/history": Rule("owner", 200),
    "POST /api/v1/orders/{order_id}/pay": Rule("owner", 200, admin_after_customer=409),
    "POST /api/v1/orders/{order_id}/cancel": Rule(
        "owner", 200, json=lambda *_: {"reason": "auth matrix"}, admin_after_customer=409
    ),
    "POST /api/v1/orders/{order_id}/status": Rule(
        "admin", 200, json=lambda *_: {"status": "shipped"}, order="paid"
    ),
    "GET /api/v1/customers/{customer_id}/orders": Rule("self", 200),
    # Sales and analytics are the manager's: admins only.
    "POST /api/v1/sales": Rule("admin", 201, json=_sale),
    "GET /api/v1/sales": Rule("admin", 200),
    "GET /api/v1/sales/{sale_id}": Rule("admin", 200),
    "GET /api/v1/analytics/revenue": Rule("admin", 200),
    "GET /api/v1/analytics/revenue/by-category": Rule("admin", 200),
    "GET /api/v1/analytics/revenue/by-product": Rule("admin", 200),
    "GET /api/v1/analytics/summary": Rule("admin", 200),
    # Reviews: customers write (admins moderate), authors and admins change, approved ones
    # are public.
    "POST /api/v1/products/{product_id}/reviews": Rule(
        "customer", 201, json=lambda *_: {"rating": 4, "body": "Written by the matrix"}
    ),
    "GET /api/v1/products/{product_id}/reviews": Rule("public", 200),
    "GET /api/v1/products/{product_id}/reviews/summary": Rule("public", 200),
    "PATCH /api/v1/reviews/{review_id}": Rule("self", 200, json=lambda *_: {"rating": 2}),
    "DELETE /api/v1/reviews/{review_id}": Rule("self", 204, fresh_per_caller=True),
    "GET /api/v1/customers/{customer_id}/reviews": Rule("self", 200),
    "GET /api/v1/reviews": Rule("admin", 200),
    "POST /api/v1/products/import": Rule("admin", 200, files=_catalog_file),
    "POST /api/v1/reviews/{review_id}/moderation": Rule(
        "admin", 200, json=lambda *_: {"decision": "approve"}
    ),
}


def expected_status(rule: Rule, caller: Caller) -> int:
    if rule.access == "customer" and caller == "admin":
        return 403
    if caller == "admin":
        return rule.admin_after_customer or rule.ok
    if rule.access == "public":
        return rule.ok
    if caller == "anonymous":
        return 401
    if rule.access == "customer":
        return rule.ok
    if rule.access == "user" or (rule.access in ("self", "owner") and caller == "customer"):
        return rule.ok
    if rule.access == "owner":
        return 404
    return 403


async def make_context(database: Database, settings: Settings) -> Context:
    customer = await make_account(database, settings, balance=Decimal("100.00"))
    stranger = await make_account(database, settings)
    admin = await make_account(database, settings, role=Role.admin)
    async with database.session_factory() as session:
        stocked = await create_category(session, CategoryCreate(name=f"Stocked {uuid.uuid4()}"))
        empty = await create_category(session, CategoryCreate(name=f"Empty {uuid.uuid4()}"))
        product, reviewed = [
            await create_product(
                session,
                ProductCreate(
                    sku=f"MATRIX-{uuid.uuid4().hex[:10]}",
                    name="Matrix product",
                    category_id=stocked.id,
                    price=Decimal("12.50"),
                    initial_stock=50,
                ),
            )
            for _ in range(2)
        ]
        review = Review(
            product_id=reviewed.id,
            user_id=customer.id,
            rating=4,
            body="The customer's approved review",
            status=ReviewStatus.APPROVED.value,
        )
        session.add(review)
        sale = await record_sale(
            session, product_id=product.id, quantity=1, timezone=ZoneInfo("UTC")
        )
        reserved = await reserve_stock(
            session, [Hold(product_id=product.id, quantity=1)], expires_at=utcnow() + HOUR
        )
        owner = Principal(id=customer.id, email=customer.email, role=customer.role)
        orders = [
            await create_order(
                session,
                OrderCreate.model_validate(_order_body(product.id)),
                actor=owner,
                ttl_seconds=3600,
            )
            for _ in range(2)
        ]
        await pay_order(session, orders[1].id, actor=owner, timezone=ZoneInfo("UTC"))
        await session.commit()
    ctx = Context(
        sale_id=sale.id,
        reservation_id=reserved.reservation.id,
        pending_order_id=orders[0].id,
        paid_order_id=orders[1].id,
        category_id=stocked.id,
        category_name=stocked.name,
        empty_category_id=empty.id,
        product_id=product.id,
        review_id=review.id,
        customer=customer,
        stranger=stranger,
        admin=admin,
        headers={
            "anonymous": {},
            "stranger": bearer(stranger, settings),
            "customer": bearer(customer, settings),
            "admin": bearer(admin, settings),
        },
    )
    for caller in CALLERS:
        ctx.refresh_tokens[caller] = await refresh_token_for(database, settings, customer)
    return ctx


def _url(path: str, rule: Rule, ctx: Context) -> str:
    target = ctx.customer if rule.target == "customer" else ctx.stranger
    category = ctx.category_id if rule.category == "stocked" else ctx.empty_category_id
    return (
        path.replace("{customer_id}", str(target.id))
        .replace("{category_id}", str(category))
        .replace("{product_id}", str(ctx.product_id))
        .replace("{review_id}", str(ctx.review_id))
        .replace("{sale_id}", str(ctx.sale_id))
        .replace("{reservation_id}", str(ctx.reservation_id))
        .replace(
            "{order_id}",
            str(ctx.pending_order_id if rule.order == "pending" else ctx.paid_order_id),
        )
    )


HOUR = timedelta(hours=1)


def _order_body(product_id: int) -> dict[str, Any]:
    return {"items": [{"product_id": product_id, "quantity": 1}], "shipping_address": "Here"}


SERVICES = {"products": build_products_app, "sales": build_sales_app}


@pytest.mark.parametrize("service", list(SERVICES))
async def test_every_route_answers_as_the_rules_say(
    service: str, settings: Settings, isolated_database: Database
) -> None:
    app: FastAPI = SERVICES[service](settings=settings, database=isolated_database)
    mismatches: list[str] = []
    checked = 0
    async for client in serve(app):
        spec = (await client.get("/openapi.json")).json()
        for path, item in spec["paths"].items():
            for method in item:
                name = f"{method.upper()} {path}"
                rule = RULES.get(name)
                if rule is None:
                    mismatches.append(f"{name}: no rule in RULES (who may call it?)")
                    continue
                ctx = await make_context(isolated_database, settings)
                for caller in CALLERS:
                    if rule.fresh_per_caller and caller != CALLERS[0]:
                        ctx = await make_context(isolated_database, settings)
                    response = await client.request(
                        method.upper(),
                        _url(path, rule, ctx),
                        headers=ctx.headers[caller],
                        json=rule.json(ctx, caller) if rule.json else None,
                        data=rule.form(ctx, caller) if rule.form else None,
                        files=rule.files(ctx, caller) if rule.files else None,
                    )
                    checked += 1
                    expected = expected_status(rule, caller)
                    if response.status_code != expected:
                        mismatches.append(
                            f"{name} as {caller}: {response.status_code} != {expected} "
                            f"{response.text[:200]}"
                        )
                    elif expected == 401:
                        assert response.headers["www-authenticate"].startswith("Bearer")
                        assert response.json()["code"] == "unauthenticated"
                    elif expected == 403:
                        assert response.json()["code"] == "forbidden"
                    elif expected == 404:
                        assert response.json()["code"] == "order_not_found"
    assert mismatches == []
    assert checked >= 4 * 4  # the spec was really walked


@pytest.mark.parametrize("service", list(SERVICES))
@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/metrics"])
async def test_infrastructure_routes_are_public(
    service: str, path: str, settings: Settings, isolated_database: Database
) -> None:
    app = SERVICES[service](settings=settings, database=isolated_database)
    async for client in serve(app):
        response = await client.get(path)
        assert response.status_code == 200
        assert response.text


async def test_swagger_authorize_uses_the_password_flow(sales_client: Any) -> None:
    spec = (await sales_client.get("/openapi.json")).json()
    scheme = spec["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["flows"]["password"]["tokenUrl"] == "/auth/token"
    secured = spec["paths"]["/api/v1/customers"]["get"]["security"]
    assert secured == [{"OAuth2PasswordBearer": []}]
