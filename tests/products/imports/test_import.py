"""Bulk import: files written with the real csv module and openpyxl, both error policies,
dry runs, re-imports, the stock ledger, and every refusal changing nothing."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient, Response
from openpyxl import Workbook
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.config import Settings
from common.db import Database
from common.exports.cells import neutralize_text
from common.imports.report import ImportReport
from common.imports.service import ImportOptions, import_products
from common.inventory.audit import reconcile
from common.models import Category, InventoryMovement, Product, Role
from products_microservice.main import build_app
from tests.fixtures.clients import serve
from tests.fixtures.databases import make_settings
from tests.fixtures.factories import API, bearer, create_category, make_account

Rows = Sequence[Sequence[Any]]
HEADER = ["sku", "name", "category", "price", "cost_price", "stock"]
CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_bytes(rows: Rows, *, delimiter: str = ",", bom: bool = False) -> bytes:
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter).writerows(rows)
    return ("\ufeff" if bom else "").encode() + text.getvalue().encode()


def xlsx_bytes(rows: Rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def upload(
    client: AsyncClient,
    content: bytes,
    *,
    filename: str = "catalog.csv",
    content_type: str = CSV_TYPE,
    **params: Any,
) -> Response:
    return await client.post(
        f"{API}/products/import",
        files={"file": (filename, content, content_type)},
        params={key: str(value).lower() for key, value in params.items()},
    )


async def catalog(session: AsyncSession) -> dict[str, tuple[str, Decimal, int]]:
    rows = await session.execute(
        select(Product.sku, Product.name, Product.price, Product.stock_on_hand)
    )
    return {sku: (name, price, stock) for sku, name, price, stock in rows.tuples()}


async def movement_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(InventoryMovement)) or 0)


async def category_names(session: AsyncSession) -> set[str]:
    return set((await session.scalars(select(Category.name))).all())


async def import_csv(session: AsyncSession, rows: Rows, **options: Any) -> ImportReport:
    """The engine itself, in the test's transaction (options such as a small `batch_size`)."""
    result = await import_products(
        session,
        io.BytesIO(csv_bytes(rows)),
        filename="catalog.csv",
        options=ImportOptions(create_categories=True, **options),
    )
    return result.report


async def ledger(session: AsyncSession, sku: str) -> list[tuple[int, int]]:
    """A product's movements as (delta, quantity_after), oldest first."""
    rows = await session.execute(
        select(InventoryMovement.delta, InventoryMovement.quantity_after)
        .join(Product, Product.id == InventoryMovement.product_id)
        .where(Product.sku == sku)
        .order_by(InventoryMovement.id)
    )
    return [(delta, after) for delta, after in rows.tuples()]


@contextmanager
def statements_run(session: AsyncSession) -> Iterator[list[str]]:
    """The SQL the session's connection sends while the block runs."""
    connection = session.sync_session.get_bind()
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])  # (connection, cursor, statement, ...)

    event.listen(connection, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(connection, "before_cursor_execute", record)


MIXED = [
    HEADER,
    ["TEA-1", "Green tea", "Tea", "4.50", "2.00", "10"],
    ["TEA-2", "Black tea", "Tea", "-1", "", "5"],  # price must be > 0
    ["TEA-3", "White tea", "Tea", "7.25", "", ""],
    ["bad sku!", "", "Tea", "abc", "", "-2"],  # four problems in one row
]


async def test_csv_import_creates_products_and_import_movements(
    admin_products_client: AsyncClient, session: AsyncSession
) -> None:
    await create_category(admin_products_client, "Tea")
    content = csv_bytes(
        [
            HEADER,
            ["tea-1", "Green tea", "tea", "4.50", "2.00", "10"],
            ["TEA-3", "White tea", "TEA", "7.25", "", ""],
        ]
    )
    response = await upload(admin_products_client, content)
    assert response.status_code == 200, response.text
    report = response.json()
    assert {key: report[key] for key in ("rows", "created", "updated", "unchanged", "failed")} == {
        "rows": 2,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
    }
    assert report["stock_movements"] == 1
    assert await catalog(session) == {
        "TEA-1": ("Green tea", Decimal("4.50"), 10),
        "TEA-3": ("White tea", Decimal("7.25"), 0),
    }
    movements = (
        await session.execute(
            select(
                InventoryMovement.kind,
                InventoryMovement.delta,
                InventoryMovement.quantity_after,
                InventoryMovement.reference,
            )
        )
    ).all()
    assert [tuple(row) for row in movements] == [("import", 10, 10, "import")]
    assert await reconcile(session) == []


async def test_abort_policy_rejects_the_file_and_writes_nothing(
    admin_products_client: AsyncClient, session: AsyncSession
) -> None:
    await create_category(admin_products_client, "Tea")
    response = await upload(admin_products_client, csv_bytes(MIXED))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "import_rejected"
    report = problem["report"]
    assert (report["rows"], report["failed"]) == (4, 2)
    errors = {(error["line"], error["column"]) for error in report["errors"]}
    assert errors == {(3, "price"), (5, "sku"), (5, "name"), (5, "price"), (5, "stock")}
    assert await catalog(session) == {}
    assert await movement_count(session) == 0


async def test_skip_policy_writes_the_good_rows_and_reports_the_bad(
    admin_products_client: AsyncClient, session: AsyncSession
) -> None:
    await create_category(admin_products_client, "Tea")
    response = await upload(admin_products_client, csv_bytes(MIXED), on_error="skip")
    assert response.status_code == 200
    report = response.json()
    assert (report["created"], report["failed"]) == (2, 2)
    assert [(e["line"], e["column"], e["reason"]) for e in report["errors"] if e["line"] == 3] == [
        (3, "price", "Input should be greater than 0")
    ]
    assert set(await catalog(session)) == {"TEA-1", "TEA-3"}


async def test_dry_run_reports_but_writes_nothing(
    admin_products_client: AsyncClient, session: AsyncSession
) -> None:
    response = await upload(
        admin_products_client, csv_bytes(MIXED), dry_run=True, create_categories=True
    )
    assert response.status_code == 200
    report = response.json()
    assert (report["dry_run"], report["created"], report["failed"]) == (True, 2, 2)
    assert report["categories_created"] == 1
    assert report["stock_movements"] == 1
    assert await catalog(session) == {}
    assert await category_names(session) == set()
    assert await movement_count(session) == 0


async def test_reimporting_the_same_file_changes_nothing(
    admin_products_client: AsyncClient, session: AsyncSession
) -> None:
    content = csv_bytes([HEADER, ["TEA-1", "Green tea", "Tea", "4.50", "2.00", "10"]])
    first = await upload(admin_products_client, content, create_categories=True)
    assert first.json()["created"] == 1
    before = (await catalog(session), await movement_count(session))
    again = (await upload(admin_products_client, content, create_categories=True)).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 1)
    assert (again["stock_movements"], again["categories_created"]) == (0, 0)
    assert (await catalog(session), await movement_count(session)) == before


async def test_changed_rows_update_and_stock_moves_by_the_difference(
    admin_products_client: AsyncClient, session: AsyncSession
) -> None:
    await upload(
        admin_products_client,
        csv_bytes(
            [
                HEADER,
                ["TEA-1", "Green tea", "Tea", "4.50", "", "10"],
                ["TEA-2", "Oolong", "Tea", "6.00", "", "4"],
            ]
        ),
        create_categories=True,
    )
    report = (
        await upload(
            admin_products_client,
            csv_bytes(
                [
                    HEADER,
                    ["TEA-1", "Green tea", "Tea", "4.50", "", "7"],
                    ["TEA-2", "Oolong tea", "Tea", "6.00", "", "4"],
                ]
            ),
        )
    ).json()
    assert (report["updated"], report["unchanged"], report["stock_movements"]) == (2, 0, 1)
    assert await catalog(session) == {
        "TEA-1": ("Green tea", Decimal("4.50"), 7),
        "TEA-2": ("Oolong tea", Decimal("6.00"), 4),
    }
    deltas = (
        await session.scalars(select(InventoryMovement.delta).order_by(InventoryMovement.id))
    ).all()
    assert sorted(deltas) == [-3, 4, 10]
    assert await reconcile(session) == []


async def test_a_repeated_sku_is_created_then_updated_in_file_order(
    admin_products_client: AsyncClient, session: AsyncSession
) -> None:
    content = csv_bytes(
        [
            HEADER,
            ["TEA-1", "First", "Tea", "1.00", "", "3"],
            ["TEA-1", "Second", "Tea", "2.00", "", "5"],
        ]
    )
    report = (await upload(admin_products_client, content, create_categories=True)).json()
    assert (report["created"], report["updated"], report["stock_movements"]) == (1, 1, 2)
    assert await catalog(session) == {"TEA-1": ("Second", Decimal("2.00"), 5)}


async def test_batches_apply_in_file_order(session: AsyncSession) -> None:
    """Batches of two rows: a SKU repeated across batches, an update of a product an earlier
    batch created, and stock set through the ledger in every batch."""
    rows = [
        HEADER,
        ["TEA-1", "Green tea", "Tea", "4.50", "", "10"],
        ["TEA-2", "Black tea", "Tea", "3.00", "", ""],
        ["TEA-3", "White tea", "Tea", "7.25", "", "4"],
        ["TEA-1", "Green tea", "Tea", "4.50", "", "6"],  # stock only
        ["TEA-2", "Black tea", "Tea", "3.50", "", ""],  # price only
        ["TEA-3", "White tea", "Tea", "7.25", "", "4"],  # unchanged
        ["TEA-4", "Oolong", "Tea", "5.00", "", "0"],
    ]
    report = await import_csv(session, rows, batch_size=2)
    counts = report.model_dump(include={"created", "updated", "unchanged", "failed"})
    assert counts == {"created": 4, "updated": 2, "unchanged": 1, "failed": 0}
    assert report.stock_movements == 3
    assert await catalog(session) == {
        "TEA-1": ("Green tea", Decimal("4.50"), 6),
        "TEA-2": ("Black tea", Decimal("3.50"), 0),
        "TEA-3": ("White tea", Decimal("7.25"), 4),
        "TEA-4": ("Oolong", Decimal("5.00"), 0),
    }
    assert await reconcile(session) == []


NEW_PRODUCTS = [
    HEADER,
    ["NEW-1", "Kettle", "Kitchen", "20.00", "", "4"],
    ["NEW-2", "Pot", "Kitchen", "9.99", "", ""],  # no stock: no movement
    ["NEW-3", "Pan", "Kitchen", "14.50", "", "0"],  # stock 0: no movement
    ["NEW-4", "Ladle", "Kitchen", "3.25", "", "1000000000"],  # the largest level
    ["NEW-5", "Whisk", "Kitchen", "2.75", "", "7"],
]


async def test_a_new_product_opens_its_level_with_one_import_movement(
    session: AsyncSession,
) -> None:
    report = await import_csv(session, NEW_PRODUCTS, batch_size=2, actor="tester")
    assert (report.created, report.stock_movements) == (5, 3)
    movements = await session.execute(
        select(
            Product.sku,
            Product.stock_on_hand,
            Product.created_at,
            InventoryMovement.kind,
            InventoryMovement.delta,
            InventoryMovement.quantity_after,
            InventoryMovement.reference,
            InventoryMovement.actor,
            InventoryMovement.created_at,
        ).join(InventoryMovement, InventoryMovement.product_id == Product.id)
    )
    opened = {}
    for sku, on_hand, created_at, kind, delta, after, reference, actor, moved_at in movements:
        assert (kind, reference, actor) == ("import", "import", "tester")
        assert delta == after == on_hand
        assert moved_at >= created_at
        opened[sku] = delta
    assert opened == {"NEW-1": 4, "NEW-4": 1_000_000_000, "NEW-5": 7}
    levels = {sku: stock for sku, (_, _, stock) in (await catalog(session)).items()}
    assert levels == {"NEW-1": 4, "NEW-2": 0, "NEW-3": 0, "NEW-4": 1_000_000_000, "NEW-5": 7}
    assert await reconcile(session) == []


async def test_new_products_take_neither_row_locks_nor_the_guarded_update(
    session: AsyncSession,
) -> None:
    """Rows the import itself creates are invisible to every other transaction: their level
    goes into the INSERT, and their movements into one INSERT per batch."""
    with statements_run(session) as sent:
        report = await import_csv(session, NEW_PRODUCTS, batch_size=2)
    assert report.stock_movements == 3
    product_writes = [sql for sql in sent if sql.lstrip().upper().startswith("UPDATE PRODUCT")]
    assert product_writes == []
    assert not [sql for sql in sent if "stock_reservation" in sql or "FOR UPDATE" in sql]
    movement_inserts = [sql for sql in sent if "INSERT INTO inventory_movement" in sql]
    assert len(movement_inserts) == 3  # one per batch holding a product with stock


@pytest.mark.parametrize(
    "batch_size",
    [pytest.param(500, id="repeat-next-to-its-first-row"), pytest.param(2, id="across-batches")],
)
async def test_a_sku_created_and_then_restocked_in_one_file_keeps_an_unbroken_chain(
    session: AsyncSession, batch_size: int
) -> None:
    rows = [
        HEADER,
        ["REP-1", "Mug", "Kitchen", "5.00", "", "5"],
        ["REP-2", "Cup", "Kitchen", "4.00", "", "2"],
        ["REP-3", "Jug", "Kitchen", "8.00", "", ""],
        ["REP-1", "Mug", "Kitchen", "5.00", "", "8"],  # created above: restocked
        ["REP-4", "Bowl", "Kitchen", "6.00", "", "1"],
        ["REP-1", "Big mug", "Kitchen", "5.50", "", "3"],  # and counted down
    ]
    report = await import_csv(session, rows, batch_size=batch_size)
    counts = report.model_dump(include={"created", "updated", "stock_movements"})
    assert counts == {"created": 4, "updated": 2, "stock_movements": 5}
    assert await ledger(session, "REP-1") == [(5, 5), (3, 8), (-5, 3)]
    assert await catalog(session) == {
        "REP-1": ("Big mug", Decimal("5.50"), 3),
        "REP-2": ("Cup", Decimal("4.00"), 2),
        "REP-3": ("Jug", Decimal("8.00"), 0),
        "REP-4": ("Bowl", Decimal("6.00"), 1),
    }
    times = list(
        await session.scalars(select(InventoryMovement.created_at).order_by(InventoryMovement.id))
    )
    assert times == sorted(times)
    assert await reconcile(session) == []


async def test_reimporting_a_file_of_new_products_changes_nothing(session: AsyncSession) -> None:
    await import_csv(session, NEW_PRODUCTS, batch_size=2)
    before = (await catalog(session), await movement_count(session))
    again = await import_csv(session, NEW_PRODUCTS, batch_size=2)
    counts = again.model_dump(include={"created", "updated", "unchanged", "stock_movements"})
    assert counts == {"created": 0, "updated": 0, "unchanged": 5, "stock_movements": 0}
    assert (await catalog(session), await movement_count(session)) == before
    assert await reconcile(session) == []


async def test_xlsx_import_with_numeric_cells(
    admin_products_client: AsyncClient, session: AsyncSession
) -> None:
    content = xlsx_bytes(
        [
            ["SKU", "Name", "Category", "Price", "Cost Price", "Low Stock Threshold", "Stock"],
            ["XL-1", "Workbook item", "Sheets", 12.5, 3, 2, 8.0],
            [None, None, None, None, None, None, None],  # blank rows are skipped
            ["XL-2", "Bad price", "Sheets", 0.001, None, None, None],
        ]
    )
    response = await upload(
        admin_products_client,
        content,
        filename="catalog.xlsx",
        content_type=XLSX_TYPE,
        on_error="skip",
        create_categories=True,
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["format"], report["created"], report["failed"]) == ("xlsx", 1, 1)
    assert [(e["line"], e["column"]) for e in report["errors"]] == [(4, "price")]
    product = (
        await session.execute(
            select(
                Product.price,
                Product.cost_price,
                Product.low_stock_threshold,
                Product.stock_on_hand,
            )
        )
    ).one()
    assert tuple(product) == (Decimal("12.50"), Decimal("3.00"), 2, 8)


async def test_bom_and_semicolon_csv(
    admin_products_client: AsyncClient, session: AsyncSession
) -> None:
    content = csv_bytes(
        [
            [" SKU ", "NAME", "Category", "Price", "Notes"],
            ["SEMI-1", "Semi; colon", "Tea", "3,5"[0], "kept aside"],
        ],
        delimiter=";",
        bom=True,
    )
    report = (await upload(admin_products_client, content, create_categories=True)).json()
    assert (report["created"], report["ignored_columns"]) == (1, ["Notes"])
    assert await catalog(session) == {"SEMI-1": ("Semi; colon", Decimal("3.00"), 0)}


async def test_unknown_category_fails_the_row_without_create_categories(
    admin_products_client: AsyncClient, session: AsyncSession
) -> None:
    content = csv_bytes([HEADER, ["TEA-1", "Green tea", "Nowhere", "4.50", "", ""]])
    problem = (await upload(admin_products_client, content)).json()
    assert problem["code"] == "import_rejected"
    assert [(e["line"], e["column"]) for e in problem["report"]["errors"]] == [(2, "category")]
    assert await category_names(session) == set()


async def test_failed_rows_csv_round_trip(
    admin_products_client: AsyncClient, session: AsyncSession
) -> None:
    await create_category(admin_products_client, "Tea")
    response = await upload(admin_products_client, csv_bytes(MIXED), dry_run=True, format="csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    failed = list(csv.reader(io.StringIO(response.text)))
    assert failed[0] == [*HEADER, "line", "column", "reason"]
    # Echoed like every export: cells that begin like a formula carry an apostrophe.
    neutralized = [[neutralize_text(cell) for cell in row] for row in (MIXED[2], MIXED[4])]
    assert [row[:6] for row in failed[1:]] == neutralized
    assert failed[1][3] == "'-1"
    assert failed[1][6:8] == ["3", "price"]
    assert failed[2][7] == "sku; name; price; stock"
    # Fix the cells and send the same file back: the report columns are ignored.
    failed[1][3] = "5.00"
    failed[2][:6] = ["TEA-4", "Fixed tea", "Tea", "3.00", "", "2"]
    report = (await upload(admin_products_client, csv_bytes(failed))).json()
    assert (report["created"], report["failed"], report["ignored_columns"]) == (2, 0, [])
    assert set(await catalog(session)) == {"TEA-2", "TEA-4"}


@pytest.mark.parametrize(
    ("filename", "content_type", "content", "status", "code"),
    [
        ("catalog.pdf", "application/pdf", b"%PDF-1.4", 415, "unsupported_file_type"),
        ("catalog.xlsx", XLSX_TYPE, b"sku,name\n", 415, "unsupported_file_type"),
        ("catalog.csv", CSV_TYPE, b"", 422, "empty_file"),
        ("catalog.csv", CSV_TYPE, b"sku,name,category,price\n\n", 422, "empty_file"),
        ("catalog.csv", CSV_TYPE, b"sku,name,stock\nA,B,1\n", 422, "missing_columns"),
        (
            "catalog.csv",
            CSV_TYPE,
            b"sku,name,category,price\n\xff\xfe,x,y,1\n",
            422,
            "invalid_file",
        ),
        ("catalog.xlsx", XLSX_TYPE, b"PK\x03\x04 not really a zip", 422, "invalid_file"),
    ],
)
async def test_unusable_files_are_refused_and_change_nothing(
    admin_products_client: AsyncClient,
    session: AsyncSession,
    filename: str,
    content_type: str,
    content: bytes,
    status: int,
    code: str,
) -> None:
    response = await upload(
        admin_products_client,
        content,
        filename=filename,
        content_type=content_type,
        create_categories=True,
    )
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert await catalog(session) == {}
    assert await category_names(session) == set()


async def test_missing_columns_are_named(admin_products_client: AsyncClient) -> None:
    response = await upload(admin_products_client, b"SKU;Stock\nA;1\n")
    assert response.json()["missing"] == ["name", "category", "price"]


async def test_request_without_a_file_is_422(admin_products_client: AsyncClient) -> None:
    response = await admin_products_client.post(
        f"{API}/products/import", files={"other": ("x.csv", b"a")}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "missing_file"
    not_multipart = await admin_products_client.post(
        f"{API}/products/import", content=b"sku\n", headers={"content-type": "text/csv"}
    )
    assert not_multipart.status_code == 415


@pytest.fixture
async def small_limit_client(
    backend: Any, isolated_database: Database
) -> AsyncIterator[AsyncClient]:
    limited: Settings = make_settings(backend.url, import_max_bytes=2048)
    admin = await make_account(isolated_database, limited, role=Role.admin)
    app = build_app(settings=limited, database=isolated_database)
    async for client in serve(app, "http://products.test"):
        client.headers.update(bearer(admin, limited))
        yield client


async def test_file_over_the_limit_is_413_and_changes_nothing(
    small_limit_client: AsyncClient, session: AsyncSession
) -> None:
    rows = [HEADER, *[[f"BIG-{n}", "Big file", "Tea", "1.00", "", ""] for n in range(200)]]
    content = csv_bytes(rows)
    assert len(content) > 2048
    response = await upload(small_limit_client, content, create_categories=True)
    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert response.json()["max_bytes"] == 2048
    assert await catalog(session) == {}
    small = await upload(small_limit_client, csv_bytes(rows[:3]), create_categories=True)
    assert small.json()["created"] == 2


async def test_file_over_the_limit_is_413_even_when_streamed_without_a_length(
    small_limit_client: AsyncClient, session: AsyncSession
) -> None:
    boundary = "matrixboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
            f"Content-Type: text/csv\r\n\r\n"
        ).encode()
        + csv_bytes([HEADER, *[["S", "n", "c", "1", "", ""]] * 20000])
        + f"\r\n--{boundary}--\r\n".encode()
    )

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    response = await small_limit_client.post(
        f"{API}/products/import",
        content=chunks(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert await catalog(session) == {}
