"""The baseline: a minimal Starlette app doing each benchmarked request's SQL with the raw
asyncmy driver, the services' own (no ORM, no validation, no auth, no middleware), the floor of
what Python can do here. Served by the same uvicorn settings as the services
(`bench.harness.running`), on the database named by `DATABASE_URL`.

Two floors per path: the strict one (`/products/{id}`: the least SQL that answers), and under
`/same/` the statements the service itself sends for that request, replayed verbatim, one
transaction ended once (`tests/bench/test_same_statements.py` keeps them in sync by capturing
both). The gap between the two is the SQL's cost; the gap to the service is the framework's.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncmy
from asyncmy.cursors import DictCursor
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PRODUCT_COLUMNS = (
    "p.id, p.sku, p.name, p.description, p.category_id, c.name AS category_name, "
    "CAST(p.price AS CHAR) AS price, p.status, p.stock_on_hand, p.low_stock_threshold, "
    "DATE_FORMAT(p.created_at, '%%Y-%%m-%%dT%%H:%%i:%%s') AS created_at, "
    "DATE_FORMAT(p.updated_at, '%%Y-%%m-%%dT%%H:%%i:%%s') AS updated_at"
)
# Built from constants only; every value travels as a driver parameter.
PRODUCTS = f"SELECT {PRODUCT_COLUMNS} FROM product p JOIN category c ON c.id = p.category_id"  # noqa: S608
SELL = "UPDATE product SET stock_on_hand = stock_on_hand - %s WHERE id = %s AND stock_on_hand >= %s"
RECORD_SALE = (
    "INSERT INTO sale (kind, product_id, category_id, quantity, unit_price, unit_cost, revenue, "
    "cost, sold_at, business_date, created_at) "
    "SELECT 'sale', id, category_id, %s, price, COALESCE(cost_price, 0), price * %s, "
    "COALESCE(cost_price, 0) * %s, UTC_TIMESTAMP(6), UTC_DATE(), UTC_TIMESTAMP(6) "
    "FROM product WHERE id = %s"
)

# Order create+pay in one transaction, the core of what the sales service does across its
# two requests: stock and money guarded in SQL, then the rows that record it.
CHARGE = (
    "UPDATE user_account SET wallet_balance = wallet_balance - %s "
    "WHERE id = %s AND is_active AND wallet_balance >= %s"
)
RESERVE = (
    "INSERT INTO stock_reservation (status, reference, actor, expires_at, created_at, "
    "updated_at) VALUES ('confirmed', NULL, 'raw', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), "
    "UTC_TIMESTAMP(6))"
)
PLACE_ORDER = (
    "INSERT INTO customer_order (customer_id, status, total, shipping_address, reservation_id, "
    "expires_at, created_at, paid_at, updated_at) VALUES (%s, 'paid', %s, %s, %s, "
    "UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))"
)
ORDER_LINE = (
    "INSERT INTO order_item (order_id, product_id, quantity, unit_price, line_total) "
    "VALUES (%s, %s, %s, %s, %s)"
)
MOVEMENT = (
    "INSERT INTO inventory_movement (product_id, kind, delta, quantity_after, reference, "
    "actor, created_at) SELECT id, 'sale', -%s, stock_on_hand, %s, 'raw', UTC_TIMESTAMP(6) "
    "FROM product WHERE id = %s"
)
ORDER_SALE = (
    "INSERT INTO sale (kind, product_id, category_id, order_id, quantity, unit_price, "
    "unit_cost, revenue, cost, sold_at, business_date, created_at) "
    "SELECT 'sale', id, category_id, %s, %s, %s, COALESCE(cost_price, 0), %s, "
    "COALESCE(cost_price, 0) * %s, UTC_TIMESTAMP(6), UTC_DATE(), UTC_TIMESTAMP(6) "
    "FROM product WHERE id = %s"
)
PAYMENT = (
    "INSERT INTO wallet_entry (user_id, kind, amount, balance_after, reference, actor_id, "
    "created_at) SELECT id, 'payment', -%s, wallet_balance, %s, id, UTC_TIMESTAMP(6) "
    "FROM user_account WHERE id = %s"
)

# The products service's read of one product (`GET /api/v1/products/{id}`, anonymous), as it
# sends it: the product, its category and its active holds in one statement.
SAME_PRODUCT_READ = (
    "SELECT (SELECT coalesce(sum(stock_reservation_item.quantity), %s) AS coalesce_1 "
    "FROM stock_reservation_item WHERE stock_reservation_item.product_id = product.id "
    "AND stock_reservation_item.status = %s AND stock_reservation_item.expires_at > %s) "
    "AS anon_1, product.id, product.sku, product.name, product.description, "
    "product.category_id, product.price, product.cost_price, product.image_url, "
    "product.status, product.low_stock_threshold, product.stock_on_hand, "
    "product.rating_count, product.rating_total, product.created_at, product.updated_at, "
    "category_1.id AS id_1, category_1.name AS name_1, category_1.name_key, category_1.slug, "
    "category_1.description AS description_1, category_1.created_at AS created_at_1, "
    "category_1.updated_at AS updated_at_1 FROM product LEFT OUTER JOIN category AS "
    "category_1 ON category_1.id = product.category_id WHERE product.id = %s"
)

pool: Any = None
# Statements the `/same/` routes sent, when a test sets it to a list.
recorded: list[str] | None = None


async def _execute(cursor: Any, statement: str, parameters: tuple[Any, ...]) -> Any:
    if recorded is not None:
        recorded.append(statement)
    return await cursor.execute(statement, parameters)


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    global pool
    url = make_url(os.environ["DATABASE_URL"])
    pool = await asyncmy.create_pool(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        db=url.database,
        charset="utf8mb4",
        minsize=1,
        maxsize=int(os.environ.get("DB_POOL_SIZE", "20")),
        autocommit=False,
    )
    try:
        yield
    finally:
        pool.close()
        await pool.wait_closed()


async def ready(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def get_product(request: Request) -> Response:
    async with pool.acquire() as connection, connection.cursor(DictCursor) as cursor:
        await cursor.execute(f"{PRODUCTS} WHERE p.id = %s", (int(request.path_params["id"]),))
        row = await cursor.fetchone()
        await connection.commit()
    if row is None:
        return JSONResponse({"detail": "not found"}, status_code=404)
    return JSONResponse(row)


async def same_product_read(request: Request) -> Response:
    now = datetime.now(UTC).replace(tzinfo=None)
    async with pool.acquire() as connection, connection.cursor(DictCursor) as cursor:
        await _execute(
            cursor, SAME_PRODUCT_READ, (0, "active", now, int(request.path_params["id"]))
        )
        row = await cursor.fetchone()
        await connection.rollback()
    if row is None:
        return JSONResponse({"detail": "not found"}, status_code=404)
    return Response(json.dumps(row, default=str), media_type="application/json")


async def list_products(request: Request) -> Response:
    limit = int(request.query_params.get("limit", 50))
    offset = int(request.query_params.get("offset", 0))
    async with pool.acquire() as connection, connection.cursor(DictCursor) as cursor:
        await cursor.execute("SELECT COUNT(*) AS total FROM product WHERE status = 'active'")
        total = (await cursor.fetchone())["total"]
        await cursor.execute(
            f"{PRODUCTS} WHERE p.status = 'active' ORDER BY p.name, p.id LIMIT %s OFFSET %s",
            (limit, offset),
        )
        items = await cursor.fetchall()
        await connection.commit()
    return JSONResponse({"items": items, "total": total, "limit": limit, "offset": offset})


async def record_sale(request: Request) -> Response:
    body = await request.json()
    product_id, quantity = int(body["product_id"]), int(body["quantity"])
    async with pool.acquire() as connection, connection.cursor() as cursor:
        if await cursor.execute(SELL, (quantity, product_id, quantity)) != 1:
            await connection.rollback()
            return JSONResponse({"code": "insufficient_stock"}, status_code=409)
        await cursor.execute(RECORD_SALE, (quantity, quantity, quantity, product_id))
        sale_id = cursor.lastrowid
        await connection.commit()
    return JSONResponse({"id": sale_id, "product_id": product_id}, status_code=201)


async def order_and_pay(request: Request) -> Response:
    body = await request.json()
    customer_id, product_id = int(body["customer_id"]), int(body["product_id"])
    quantity = int(body["quantity"])
    async with pool.acquire() as connection, connection.cursor() as cursor:
        # Product row first, then the wallet: the lock order of the service.
        await cursor.execute("SELECT price FROM product WHERE id = %s FOR UPDATE", (product_id,))
        (price,) = await cursor.fetchone()
        total = price * quantity
        if await cursor.execute(SELL, (quantity, product_id, quantity)) != 1:
            await connection.rollback()
            return JSONResponse({"code": "insufficient_stock"}, status_code=409)
        if await cursor.execute(CHARGE, (total, customer_id, total)) != 1:
            await connection.rollback()
            return JSONResponse({"code": "insufficient_funds"}, status_code=409)
        await cursor.execute(RESERVE)
        await cursor.execute(
            PLACE_ORDER, (customer_id, total, body["shipping_address"], cursor.lastrowid)
        )
        order_id = cursor.lastrowid
        reference = f"order:{order_id}"
        await cursor.execute(ORDER_LINE, (order_id, product_id, quantity, price, total))
        await cursor.execute(MOVEMENT, (quantity, reference, product_id))
        await cursor.execute(ORDER_SALE, (order_id, quantity, price, total, quantity, product_id))
        await cursor.execute(PAYMENT, (total, reference, customer_id))
        await connection.commit()
    return JSONResponse({"id": order_id, "status": "paid", "total": str(total)}, status_code=200)


app = Starlette(
    routes=[
        Route("/ready", ready),
        Route("/products", list_products),
        Route("/products/{id:int}", get_product),
        Route("/same/products/{id:int}", same_product_read),
        Route("/sales", record_sale, methods=["POST"]),
        Route("/orders", order_and_pay, methods=["POST"]),
    ],
    lifespan=lifespan,
)
