"""Bulk catalog import from a CSV or XLSX file: one engine for the HTTP route and the CLI.

- The file is read row by row (csv over a text wrapper; openpyxl in read-only mode), never
  whole: memory follows the batch size and the number of failed rows, not the file.
- Every row is validated with the catalog's own field rules (`common.schemas.catalog`).
- Rows are written in batches of `BATCH_SIZE` (one bulk read of the batch's SKUs and
  categories, one multi-row INSERT, bulk UPDATEs, the stock as below), all inside
  ONE savepoint of the caller's transaction. A dry run, or an aborted import, rolls the
  savepoint back: the database checks every row exactly as a real import would (unique keys,
  categories), yet nothing is kept.
- Rows apply in file order: a SKU that appears twice is created by its first row and
  updated by the second (the batch is written before the repeat is read).
- Every stock level is explained by `import` ledger movements. A new product is inserted
  at its level, and its opening movement (from 0 to that level) follows in one INSERT ...
  SELECT for the batch (`open_levels`): no other transaction can see the new row, so there
  is nothing to lock or guard. An existing product's level is set by `set_levels` (row locks,
  guarded UPDATE), and only when it differs. A `stock` of 0 or none writes no movement.
"""

from __future__ import annotations

import csv
import io
import itertools
import zipfile
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePath
from typing import IO, Any, Literal, TypedDict, cast
from xml.etree.ElementTree import ParseError

from pydantic import Field, ValidationError
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.catalog.naming import name_key, unique_slug
from common.catalog.schemas import (
    DEFAULT_LOW_STOCK_THRESHOLD,
    CategoryName,
    CostPrice,
    Price,
    ProductDescription,
    ProductName,
    Sku,
    StockLevel,
    Threshold,
)
from common.db.dialect import violates_unique
from common.db.transaction import flush_unique
from common.db.types import utcnow
from common.errors import Conflict, InvalidInput, UnsupportedMediaType
from common.inventory.ledger import open_levels, set_levels
from common.models.catalog import Category, Product, ProductStatus
from common.models.inventory import MovementKind
from common.schemas import Schema

FileFormat = Literal["csv", "xlsx"]
OnError = Literal["abort", "skip"]
COLUMNS = (
    "sku",
    "name",
    "description",
    "category",
    "price",
    "cost_price",
    "low_stock_threshold",
    "stock",
)
REQUIRED_COLUMNS = ("sku", "name", "category", "price")
# Columns the failed-rows CSV adds; a corrected file sent back with them is accepted.
REPORT_COLUMNS = ("line", "column", "reason")
BATCH_SIZE = 500
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPES = ("text/csv", "application/csv", "text/plain", "application/vnd.ms-excel")
_ZIP_MAGIC = b"PK\x03\x04"
LEDGER_REFERENCE = "import"
# Core, on the table itself (the ORM's bulk path costs per row), and built once. Its VALUES
# must hold only placeholders: then the driver sends one multi-row INSERT, else one per row.
_INSERT_PRODUCTS = insert(cast(Table, Product.__table__))


# --- errors ----------------------------------------------------------------------------------


class UnsupportedFileType(UnsupportedMediaType):
    code = "unsupported_file_type"
    title = "Unsupported file type"


class InvalidImportFile(InvalidInput):
    code = "invalid_file"
    title = "The file cannot be read"


class EmptyImportFile(InvalidInput):
    code = "empty_file"
    title = "The file has no product rows"


class MissingColumns(InvalidInput):
    code = "missing_columns"
    title = "Required columns are missing"


class ImportConflict(Conflict):
    code = "import_conflict"
    title = "A concurrent change collided with the import"


class ImportRejected(InvalidInput):
    """`on_error=abort` and some rows failed: nothing was written; the report says why."""

    code = "import_rejected"
    title = "Some rows are invalid; nothing was imported"

    def __init__(self, report: ImportReport) -> None:
        super().__init__(
            f"{report.failed} of {report.rows} rows failed; fix them, or import the valid "
            "rows alone with on_error=skip.",
            report=report.model_dump(mode="json"),
        )
        self.report = report


# --- options and report ----------------------------------------------------------------------


@dataclass(frozen=True)
class ImportOptions:
    create_categories: bool = False
    dry_run: bool = False
    on_error: OnError = "abort"
    actor: str | None = None
    batch_size: int = BATCH_SIZE


class RowError(Schema):
    line: int = Field(description="Row in the file; the header is line 1")
    column: str | None = Field(description="The column at fault; null for the whole row")
    reason: str


class ImportReport(Schema):
    format: FileFormat
    dry_run: bool
    on_error: OnError
    rows: int = Field(description="Product rows read (blank rows are not counted)")
    created: int
    updated: int
    unchanged: int
    failed: int
    categories_created: int
    stock_movements: int = Field(description="`import` movements written to the stock ledger")
    ignored_columns: list[str] = Field(description="Header cells that are not import columns")
    errors: list[RowError]


@dataclass
class FailedRow:
    line: int
    cells: list[str]
    errors: list[RowError]


@dataclass
class ImportResult:
    report: ImportReport
    header: list[str]
    failed_rows: list[FailedRow]


class ImportRow(Schema):
    """One product row, with the same field rules as `POST /products`."""

    sku: Sku
    name: ProductName
    description: ProductDescription | None = None
    category: CategoryName
    price: Price
    cost_price: CostPrice | None = None
    low_stock_threshold: Threshold | None = None
    stock: StockLevel | None = None


# --- reading the file ------------------------------------------------------------------------

Cells = list[str]


def detect_format(filename: str | None, content_type: str | None, head: bytes) -> FileFormat:
    """By extension, else by media type; then the bytes must agree."""
    suffix = PurePath(filename or "").suffix.lower()
    media_type = (content_type or "").split(";")[0].strip().lower()
    if suffix == ".xlsx" or (not suffix and media_type == XLSX_MEDIA_TYPE):
        if not head.startswith(_ZIP_MAGIC):
            raise UnsupportedFileType("The file is named .xlsx but is not an Excel workbook.")
        return "xlsx"
    if suffix == ".csv" or (not suffix and media_type in CSV_MEDIA_TYPES):
        if head.startswith(_ZIP_MAGIC):
            raise UnsupportedFileType("The file is named .csv but is a zip (a workbook?).")
        return "csv"
    raise UnsupportedFileType(
        f"Send a .csv (UTF-8) or .xlsx file; got {filename or 'a file without a name'!r}."
    )


def _csv_rows(file: IO[bytes]) -> Generator[Cells]:
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    reader = None
    try:
        header_line = text.readline()
        # Header names never contain either separator, so the commoner one is the delimiter.
        delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
        reader = csv.reader(itertools.chain([header_line], text), delimiter=delimiter)
        yield from reader
    except UnicodeDecodeError as error:
        raise InvalidImportFile("The CSV file is not UTF-8 text.") from error
    except csv.Error as error:
        line = reader.line_num if reader is not None else 1
        raise InvalidImportFile(f"The CSV file is malformed near line {line}: {error}.") from error
    finally:
        # Leave the caller's file open (the HTTP upload, the CLI's file) for them to close.
        text.detach()


def _cell_text(value: Any) -> str:
    """An Excel cell as the text a CSV would hold, so both formats validate alike."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        # 5.0 in a stock column is 5; 12.5 stays 12.5 (repr is the shortest exact form).
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _xlsx_rows(file: IO[bytes]) -> Generator[Cells]:
    # Imported here: only workbook imports pay for loading openpyxl.
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    unreadable = (zipfile.BadZipFile, InvalidFileException, KeyError, ParseError, ValueError)
    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
    except unreadable as error:
        raise InvalidImportFile("The workbook cannot be read; save it again as .xlsx.") from error
    try:
        if not workbook.worksheets:
            return
        for values in workbook.worksheets[0].iter_rows(values_only=True):
            yield [_cell_text(value) for value in values]
    except unreadable as error:
        raise InvalidImportFile("The workbook is damaged; save it again as .xlsx.") from error
    finally:
        workbook.close()


def _normalize_header(cell: str) -> str:
    return "_".join(cell.strip().lower().replace("-", " ").split())


@dataclass(frozen=True)
class Header:
    cells: Cells
    positions: dict[str, int]  # import column -> index in a row
    ignored: list[str]


def _read_header(cells: Cells) -> Header:
    positions: dict[str, int] = {}
    ignored = []
    for index, cell in enumerate(cells):
        column = _normalize_header(cell)
        if column in COLUMNS:
            if column in positions:
                raise InvalidImportFile(f"The column {column!r} appears twice in the header.")
            positions[column] = index
        elif column and column not in REPORT_COLUMNS:
            ignored.append(cell.strip())
    if missing := [column for column in REQUIRED_COLUMNS if column not in positions]:
        raise MissingColumns(
            f"The header row lacks the required column(s): {', '.join(missing)}. "
            f"Columns: {', '.join(COLUMNS)}.",
            missing=missing,
        )
    return Header(cells=cells, positions=positions, ignored=ignored)


def _validate(line: int, cells: Cells, header: Header) -> ImportRow | list[RowError]:
    values = {
        column: cells[index]
        for column, index in header.positions.items()
        if index < len(cells) and cells[index].strip()
    }
    try:
        return ImportRow.model_validate(values)
    except ValidationError as error:
        return [
            RowError(
                line=line,
                column=str(problem["loc"][0]) if problem["loc"] else None,
                reason=problem["msg"],
            )
            for problem in error.errors()
        ]


# --- writing batches -------------------------------------------------------------------------


@dataclass
class _Pending:
    line: int
    cells: Cells
    row: ImportRow
    category_key: str  # name_key(row.category)


@dataclass
class _Counts:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    categories_created: int = 0
    stock_movements: int = 0
    failed_rows: list[FailedRow] = field(default_factory=list)


_COMPARED = ("name", "description", "category_id", "price", "cost_price", "low_stock_threshold")
# Built once, like every statement run per batch: the batch's products that already exist.
_EXISTING = select(
    Product.id, Product.sku, Product.stock_on_hand, *(getattr(Product, c) for c in _COMPARED)
).where(Product.sku.in_(bindparam("skus", expanding=True)))


class _LedgerEntry(TypedDict):
    """What every `import` movement says about itself."""

    kind: MovementKind
    reference: str
    actor: str | None
    note: str


class _Writer:
    def __init__(self, session: AsyncSession, header: Header, options: ImportOptions) -> None:
        self.session = session
        self.header = header
        self.options = options
        self.counts = _Counts()
        self.categories: dict[str, int] = {}  # name_key -> id; one entry per category named
        self._ledger_entry = _LedgerEntry(
            kind=MovementKind.IMPORT,
            reference=LEDGER_REFERENCE,
            actor=options.actor,
            note="Stock level from a catalog import",
        )

    def fail(self, line: int, cells: Cells, errors: list[RowError]) -> None:
        self.counts.failed_rows.append(FailedRow(line=line, cells=cells, errors=errors))

    async def _resolve_categories(self, batch: list[_Pending]) -> list[_Pending]:
        wanted = {item.category_key: item.row.category for item in batch}
        unknown = [key for key in wanted if key not in self.categories]
        if unknown:
            rows = await self.session.execute(
                select(Category.name_key, Category.id).where(Category.name_key.in_(unknown))
            )
            self.categories.update(rows.tuples().all())
        if self.options.create_categories:
            for key, name in wanted.items():
                if key not in self.categories:
                    self.categories[key] = await self._create_category(name, key)
        resolved = []
        for item in batch:
            if item.category_key in self.categories:
                resolved.append(item)
            else:
                reason = (
                    f"No category named {item.row.category!r}; create it first, or import "
                    "with create_categories=true."
                )
                error = RowError(line=item.line, column="category", reason=reason)
                self.fail(item.line, item.cells, [error])
        return resolved

    async def _create_category(self, name: str, key: str) -> int:
        category = Category(
            name=name, name_key=key, slug=await unique_slug(self.session, name, category_id=None)
        )
        self.session.add(category)

        def taken() -> ImportConflict:
            return ImportConflict(f"The category {name!r} was created meanwhile; retry.")

        await flush_unique(self.session, "category", {"name_key": taken, "slug": taken})
        self.counts.categories_created += 1
        return category.id

    def _fields(self, item: _Pending) -> dict[str, Any]:
        """The values this row sets: absent optional columns leave a product as it is."""
        row = item.row
        values: dict[str, Any] = {
            "name": row.name,
            "category_id": self.categories[item.category_key],
            "price": row.price,
        }
        present = self.header.positions
        if "description" in present:
            values["description"] = row.description
        if "cost_price" in present:
            values["cost_price"] = row.cost_price
        if row.low_stock_threshold is not None:
            values["low_stock_threshold"] = row.low_stock_threshold
        return values

    async def write(self, batch: list[_Pending]) -> None:
        batch = await self._resolve_categories(batch)
        if not batch:
            return
        existing = {
            row.sku: row
            for row in (
                await self.session.execute(_EXISTING, {"skus": [item.row.sku for item in batch]})
            ).all()
        }
        now = utcnow()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        levels: dict[int, int] = {}
        opened: list[str] = []  # SKUs of new products with stock
        for item in batch:
            values = self._fields(item)
            current = existing.get(item.row.sku)
            if current is None:
                # Created at its level; its opening movement follows the INSERT.
                inserts.append(_new_product(item.row.sku, values, item.row.stock or 0, now))
                if item.row.stock:
                    opened.append(item.row.sku)
                self.counts.created += 1
                continue
            changed = {k: v for k, v in values.items() if getattr(current, k) != v}
            stock = item.row.stock
            restocked = stock is not None and stock != current.stock_on_hand
            if changed:
                updates.append({"id": current.id, **changed, "updated_at": now})
            if stock is not None and restocked:
                levels[current.id] = stock
            if changed or restocked:
                self.counts.updated += 1
            else:
                self.counts.unchanged += 1
        if inserts:
            await self._insert(inserts)
            self.counts.stock_movements += await open_levels(
                self.session, opened, **self._ledger_entry
            )
        if updates:
            # ORM bulk UPDATE by primary key: rows setting the same columns share one statement.
            await self.session.execute(update(Product), updates)
        # Products that existed before this batch move through the locked, guarded path.
        self.counts.stock_movements += await set_levels(self.session, levels, **self._ledger_entry)

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        try:
            # Core, not the ORM's bulk INSERT: plain rows, nothing to track in the session.
            await self.session.execute(_INSERT_PRODUCTS, rows)
        except IntegrityError as error:
            if violates_unique(error, "product", "sku"):
                raise ImportConflict(
                    "A product with one of these SKUs was created meanwhile; retry the import."
                ) from error
            raise


def _new_product(sku: str, values: dict[str, Any], stock: int, now: datetime) -> dict[str, Any]:
    return {
        "sku": sku,
        "description": None,
        "cost_price": None,
        "low_stock_threshold": DEFAULT_LOW_STOCK_THRESHOLD,
        **values,
        "status": ProductStatus.ACTIVE.value,
        "stock_on_hand": stock,
        "created_at": now,
        "updated_at": now,
    }


# --- the engine ------------------------------------------------------------------------------


def _is_blank(cells: Cells) -> bool:
    return not "".join(cells).strip()


async def _run(
    session: AsyncSession,
    rows: Iterator[Cells],
    options: ImportOptions,
    on_progress: Callable[[int], None] | None,
) -> tuple[Header, _Counts]:
    numbered = enumerate(rows, start=1)
    header_cells = next((cells for _, cells in numbered if not _is_blank(cells)), None)
    if header_cells is None:
        raise EmptyImportFile("The file is empty: it needs a header row and product rows.")
    header = _read_header(header_cells)
    writer = _Writer(session, header, options)
    batch: list[_Pending] = []
    skus: set[str] = set()

    async def flush() -> None:
        await writer.write(batch)
        if on_progress is not None:
            on_progress(len(batch))
        batch.clear()
        skus.clear()

    for line, cells in numbered:
        if _is_blank(cells):
            continue
        writer.counts.rows += 1
        validated = _validate(line, cells, header)
        if isinstance(validated, list):
            writer.fail(line, cells, validated)
            continue
        # A repeated SKU waits for the batch holding its first row to be written, so the
        # repeat updates that product instead of colliding with it.
        if validated.sku in skus or len(batch) >= options.batch_size:
            await flush()
        batch.append(
            _Pending(
                line=line, cells=cells, row=validated, category_key=name_key(validated.category)
            )
        )
        skus.add(validated.sku)
    if batch:
        await flush()
    if writer.counts.rows == 0:
        raise EmptyImportFile("The file has a header row but no product rows.")
    return header, writer.counts


async def import_products(
    session: AsyncSession,
    file: IO[bytes],
    *,
    filename: str | None,
    content_type: str | None = None,
    options: ImportOptions,
    on_progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import a catalog file into the session's transaction (flushes only).

    Raises `ImportRejected` (nothing kept) when `on_error="abort"` and a row failed, except in
    a dry run, which always reports. Safe to rerun on a retried transaction: it reads the file
    from the start.
    """
    file.seek(0)
    head = file.read(len(_ZIP_MAGIC))
    file.seek(0)
    if not head:
        raise EmptyImportFile("The file is empty: it needs a header row and product rows.")
    file_format = detect_format(filename, content_type, head)
    rows = _csv_rows(file) if file_format == "csv" else _xlsx_rows(file)
    savepoint = await session.begin_nested()
    try:
        header, counts = await _run(session, rows, options, on_progress)
    except BaseException:
        await savepoint.rollback()
        raise
    finally:
        # Closing the generator runs its cleanup (detach the text wrapper, close the workbook).
        rows.close()
    rejected = options.on_error == "abort" and bool(counts.failed_rows)
    if options.dry_run or rejected:
        await savepoint.rollback()
    else:
        await savepoint.commit()
    report = ImportReport(
        format=file_format,
        dry_run=options.dry_run,
        on_error=options.on_error,
        rows=counts.rows,
        created=counts.created,
        updated=counts.updated,
        unchanged=counts.unchanged,
        failed=len(counts.failed_rows),
        categories_created=counts.categories_created,
        stock_movements=counts.stock_movements,
        ignored_columns=header.ignored,
        errors=[error for failed in counts.failed_rows for error in failed.errors],
    )
    if rejected and not options.dry_run:
        raise ImportRejected(report)
    return ImportResult(report=report, header=header.cells, failed_rows=counts.failed_rows)


def failed_rows_csv(result: ImportResult) -> str:
    """The failed rows with their original cells, plus line, column and reason: fix the
    cells and upload the file again (the three report columns are ignored on import)."""
    width = len(result.header)
    output = io.StringIO()
    writer = csv.writer(output)
    writer.writerow([*result.header, *REPORT_COLUMNS])
    for failed in result.failed_rows:
        cells = (failed.cells + [""] * width)[:width]
        columns = "; ".join(error.column or "" for error in failed.errors)
        reasons = "; ".join(error.reason for error in failed.errors)
        writer.writerow([*cells, failed.line, columns, reasons])
    return output.getvalue()
