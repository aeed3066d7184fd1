"""The import's limits: a declared sheet dimension ignored, each cap (rows, columns, CSV line,
an XLSX's unpacked parts, its shared strings) answered with its own problem and nothing
written, XML entity declarations refused, and the report keeping the first 1,000 errors plus
the totals. Reading runs in the import's own bounded worker threads."""

from __future__ import annotations

import asyncio
import csv
import io
import zipfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import openpyxl
import pytest
from httpx import AsyncClient, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.db import Database
from common.imports import service
from common.imports.errors import LineTooLong
from common.imports.limits import ImportLimits
from common.imports.reader import count_shared_strings, xlsx_rows
from common.imports.service import ImportOptions, import_products
from common.models import Product, Role
from products_microservice.main import build_app
from tests.fixtures.clients import serve
from tests.fixtures.databases import Backend, make_settings
from tests.fixtures.factories import bearer, create_category, make_account
from tests.fixtures.imports import (
    CONTENT_TYPES,
    SHARED_STRINGS,
    SHEET,
    csv_bytes,
    declare_size,
    sheet_row,
    upload,
    upload_xlsx,
    with_doctype,
    workbook_parts,
    xlsx_bytes,
    zip_parts,
)

HEADER = ["sku", "name", "category", "price"]
TEA = [HEADER, ["TEA-1", "Green tea", "Tea", "4.50"], ["TEA-2", "Black tea", "Tea", "3.20"]]
LimitedClient = Callable[..., AbstractAsyncContextManager[AsyncClient]]


async def product_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Product)) or 0)


@pytest.fixture
def limited_client(backend: Backend, isolated_database: Database) -> LimitedClient:
    """An admin client of a products service whose settings override the given limits; its
    imports create the categories they name (so a file past no limit would write)."""

    @asynccontextmanager
    async def client(**overrides: object) -> AsyncIterator[AsyncClient]:
        settings = make_settings(backend.url, **overrides)
        admin = await make_account(isolated_database, settings, role=Role.admin)
        app = build_app(settings=settings, database=isolated_database)
        async for served in serve(app, "http://products.test"):
            served.headers.update(bearer(admin, settings))
            served.params = served.params.set("create_categories", "true")
            yield served

    return client


def assert_refused(response: Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, object] = response.json()
    assert problem["code"] == code
    return problem


async def test_a_declared_dimension_is_ignored(
    admin_products_client: AsyncClient, session: AsyncSession
) -> None:
    # Under 2 KB, claiming 16,384 columns by 10,000 rows; its last row really is row 10,000
    # (TEA-1 again, as shared strings 4 to 7).
    content = xlsx_bytes(
        TEA, dimension="A1:XFD10000", extra_rows=sheet_row(10_000, {1: 4, 2: 5, 3: 6, 4: 7})
    )
    assert len(content) < 2048

    rows = list(xlsx_rows(io.BytesIO(content), ImportLimits()))
    # Rows as the data has them: never padded to the declared 16,384 columns.
    assert max(len(row) for row in rows) == len(HEADER)
    assert rows[:3] == TEA
    assert rows[-1] == ["TEA-1", "Green tea", "Tea", "4.50"]
    await create_category(admin_products_client, "Tea")
    response = await upload_xlsx(admin_products_client, content, on_error="skip")
    assert response.status_code == 200, response.text
    assert (response.json()["rows"], response.json()["created"]) == (3, 2)
    assert await product_count(session) == 2


async def test_rows_past_import_max_rows_are_413_and_nothing_is_written(
    limited_client: LimitedClient, session: AsyncSession
) -> None:
    rows = [HEADER, *([f"TEA-{n}", "Tea", "Tea", "1.00"] for n in range(5))]
    async with limited_client(import_max_rows=5) as client:
        assert (await upload(client, csv_bytes(rows), dry_run=True)).json()["rows"] == 5
        problem = assert_refused(
            await upload(client, csv_bytes([*rows, ["TEA-9", "Tea", "Tea", "1.00"]])),
            413,
            "too_many_rows",
        )
        assert problem["max_rows"] == 5
        # Blank rows count: reading them costs as much (a sheet can jump to row 1,000,000).
        with_blanks = csv_bytes([*rows[:4], [], [], []])
        assert_refused(await upload(client, with_blanks), 413, "too_many_rows")
        far_row = sheet_row(2_000_000_000, {1: 0})
        workbook = xlsx_bytes(rows[:2], extra_rows=far_row)
        assert_refused(await upload_xlsx(client, workbook), 413, "too_many_rows")
    assert await product_count(session) == 0


async def test_columns_past_import_max_columns_are_413_and_nothing_is_written(
    limited_client: LimitedClient, session: AsyncSession
) -> None:
    async with limited_client(import_max_columns=10) as client:
        wide = [[*HEADER, *(f"extra {n}" for n in range(7))], ["TEA-1", "Tea", "Tea", "1.00"]]
        problem = assert_refused(await upload(client, csv_bytes(wide)), 413, "too_many_columns")
        assert (problem["line"], problem["max_columns"]) == (1, 10)
        # A cell out at column XFD, the last one Excel has.
        far_cell = sheet_row(4, {1: 4, 16_384: 7})
        workbook = xlsx_bytes(TEA, extra_rows=far_cell)
        problem = assert_refused(await upload_xlsx(client, workbook), 413, "too_many_columns")
        assert problem["line"] == 4
        # Empty cells beyond the limit (trailing separators) are not columns of the file.
        trailing = [[*row, *[""] * 40] for row in TEA]
        accepted = await upload(client, csv_bytes(trailing), dry_run=True)
        assert (accepted.status_code, accepted.json()["rows"]) == (200, 2)
    assert await product_count(session) == 0


async def test_a_csv_line_past_the_limit_is_refused_and_nothing_is_written(
    session: AsyncSession,
) -> None:
    rows = [[*HEADER, "description"], ["TEA-1", "Tea", "Tea", "1.00", "x" * 300]]
    options = ImportOptions(create_categories=True, limits=ImportLimits(max_csv_line_chars=200))
    with pytest.raises(LineTooLong) as refused:
        await import_products(
            session, io.BytesIO(csv_bytes(rows)), filename="a.csv", options=options
        )
    assert (refused.value.status_code, refused.value.code) == (413, "line_too_long")
    assert await product_count(session) == 0


async def test_a_workbook_that_unpacks_past_ten_times_the_limit_is_413(
    limited_client: LimitedClient, session: AsyncSession
) -> None:
    parts: dict[str, str | bytes] = {**workbook_parts(TEA), "xl/media/pad.bin": bytes(50_000)}
    content = zip_parts(parts)
    async with limited_client(import_max_bytes=4096) as client:
        assert len(content) < 4096
        problem = assert_refused(await upload_xlsx(client, content), 413, "workbook_too_large")
        assert problem["max_unpacked_bytes"] == 40_960
        # Any part other than a worksheet is read whole: it may not pass the limit itself.
        parts = {**workbook_parts(TEA), "xl/styles.xml": " " * 5000}
        content = zip_parts(parts)
        assert_refused(await upload_xlsx(client, content), 413, "workbook_too_large")
    assert await product_count(session) == 0


async def test_a_zip_of_too_many_parts_is_refused_before_its_directory_is_read(
    admin_products_client: AsyncClient, session: AsyncSession
) -> None:
    parts: dict[str, str | bytes] = dict(workbook_parts(TEA))
    # Empty parts of long names: a directory of some 1.1 MB (each entry 46 bytes + its name).
    parts.update({f"p/{n:0>200}": b"" for n in range(4500)})
    response = await upload_xlsx(admin_products_client, zip_parts(parts), create_categories=True)
    problem = assert_refused(response, 413, "workbook_too_large")
    assert "directory" in str(problem["detail"])
    assert await product_count(session) == 0


async def test_a_shared_strings_zip_bomb_is_refused_before_it_is_inflated(
    limited_client: LimitedClient, session: AsyncSession
) -> None:
    parts = workbook_parts(TEA)
    bomb = parts[SHARED_STRINGS].replace("</sst>", "<si><t>x</t></si>" * 2000 + "</sst>")
    content = zip_parts({**parts, SHARED_STRINGS: bomb})
    # The directory's claim alone decides: a small real part claiming 30,000 bytes is refused
    # although inflating it would give a good workbook (the default limits import it).
    claimed = declare_size(xlsx_bytes(TEA), SHARED_STRINGS, 30_000)
    async with limited_client(import_max_bytes=4096) as client:
        assert len(content) < 4096
        problem = assert_refused(
            await upload_xlsx(client, content), 413, "shared_strings_too_large"
        )
        assert problem["max_shared_strings_bytes"] == 4096
        assert_refused(await upload_xlsx(client, claimed), 413, "shared_strings_too_large")
    assert await product_count(session) == 0
    async with limited_client() as client:
        assert (await upload_xlsx(client, claimed, dry_run=True)).json()["rows"] == 2


async def test_shared_strings_past_four_per_allowed_row_are_413(
    limited_client: LimitedClient, session: AsyncSession
) -> None:
    def padded(count: int, text: str | None = None) -> bytes:
        parts = workbook_parts(TEA)
        padding = "".join(f"<si><t>{text or n}</t></si>" for n in range(count))
        parts[SHARED_STRINGS] = parts[SHARED_STRINGS].replace("</sst>", padding + "</sst>")
        return zip_parts(parts)

    # Some 5 KB that openpyxl would turn into 2,511 strings, with 100 rows allowed (404).
    content = padded(2500)
    at_the_limit = padded(4 * 101 - 11, "x")  # TEA has 11 strings of its own
    async with limited_client(import_max_rows=100) as client:
        problem = assert_refused(await upload_xlsx(client, content), 413, "too_many_shared_strings")
        assert problem["max_shared_strings"] == 404
        accepted = await upload_xlsx(client, at_the_limit, dry_run=True)
        assert accepted.json()["rows"] == 2
    assert await product_count(session) == 0


def test_shared_strings_are_counted_across_read_chunks() -> None:
    # 17 and 23 bytes a string: many fall across the 1 MiB chunks the count reads.
    strings = ["<si><t>a</t></si>", '<x:si a="1"><x:t>b</x:t></x:si>'] * 80_000
    content = zip_parts({SHARED_STRINGS: "<sst>" + "".join(strings) + "<si/></sst>"})
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert count_shared_strings(archive, SHARED_STRINGS, 10**9) == len(strings) + 1
        # It stops reading once past the limit (and says so by a count above it).
        assert 1000 < count_shared_strings(archive, SHARED_STRINGS, 1000) < len(strings)


LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">'
        for n in range(1, 10)
    )
    + "]>"
)
ONE_ENTITY = '<!DOCTYPE sst [<!ENTITY tea "Tea">]>'


def test_openpyxl_parses_with_defusedxml() -> None:
    assert openpyxl.DEFUSEDXML is True


@pytest.mark.parametrize(
    ("part", "doctype"),
    [
        (SHEET, LAUGHS),
        (SHARED_STRINGS, LAUGHS),
        (CONTENT_TYPES, LAUGHS),
        (SHARED_STRINGS, ONE_ENTITY),
    ],
)
async def test_xml_entity_declarations_are_refused_and_nothing_is_written(
    admin_products_client: AsyncClient, session: AsyncSession, part: str, doctype: str
) -> None:
    parts = workbook_parts(TEA)
    parts[part] = with_doctype(parts[part], doctype)
    if doctype == ONE_ENTITY:
        # One harmless entity: the standard parser would expand it, defusedxml refuses it.
        parts[SHARED_STRINGS] = parts[SHARED_STRINGS].replace("<t>Tea</t>", "<t>&tea;</t>")
    response = await upload_xlsx(admin_products_client, zip_parts(parts), create_categories=True)
    assert_refused(response, 422, "unsafe_xml")
    assert await product_count(session) == 0


async def test_the_report_keeps_the_first_1000_errors_and_counts_them_all(
    admin_products_client: AsyncClient, session: AsyncSession
) -> None:
    # 600 rows with two errors each (sku and price): 1,200 errors in all.
    rows = [HEADER, *([f"bad sku {n}", "Tea", "Tea", "-1"] for n in range(600))]
    content = csv_bytes([*rows, ["TEA-1", "Green tea", "Tea", "4.50"]])
    await create_category(admin_products_client, "Tea")
    report = (await upload(admin_products_client, content, on_error="skip", dry_run=True)).json()
    assert (report["rows"], report["failed"], report["errors_total"]) == (601, 600, 1200)
    assert len(report["errors"]) == 1000
    assert [error["line"] for error in report["errors"][-2:]] == [501, 501]

    response = await upload(
        admin_products_client, content, on_error="skip", dry_run=True, format="csv"
    )
    failed = list(csv.reader(io.StringIO(response.text)))
    assert len(failed) == 1 + 500  # the header, then the rows holding the first 1,000 errors
    assert failed[-1][4] == "501"
    assert response.headers["import-failed-rows"] == "600"
    assert response.headers["import-errors-total"] == "1200"

    rejected = (await upload(admin_products_client, content)).json()
    assert rejected["code"] == "import_rejected"
    assert rejected["report"]["failed"] == 600
    assert len(rejected["report"]["errors"]) == 1000
    assert await product_count(session) == 0


async def test_concurrent_imports_share_the_imports_own_bounded_threads(
    committed_admin_products_client: AsyncClient,
) -> None:
    client = committed_admin_products_client
    content = csv_bytes([HEADER, *([f"bad sku {n}", "Tea", "Tea", "-1"] for n in range(3000))])
    # The test holds every one of the import's threads: imports must queue for them, not run
    # on the event loop or in anyio's default pool.
    holders = [object() for _ in range(service.PARSE_THREADS)]
    for holder in holders:
        await service.PARSE_LIMITER.acquire_on_behalf_of(holder)
    imports = [
        asyncio.create_task(upload(client, content, on_error="skip", dry_run=True))
        for _ in range(2 * service.PARSE_THREADS)
    ]
    try:
        async with asyncio.timeout(60):
            # anyio's limiter has no event for "n tasks waiting": poll its statistics.
            while service.PARSE_LIMITER.statistics().tasks_waiting < len(imports):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert not any(task.done() for task in imports)
    finally:
        for holder in holders:
            service.PARSE_LIMITER.release_on_behalf_of(holder)
    borrowed = 0
    while not all(task.done() for task in imports):
        borrowed = max(borrowed, service.PARSE_LIMITER.statistics().borrowed_tokens)
        assert borrowed <= service.PARSE_THREADS
        await asyncio.sleep(0.001)
    assert [(await task).json()["failed"] for task in imports] == [3000] * len(imports)
    assert service.PARSE_LIMITER.statistics().borrowed_tokens == 0
