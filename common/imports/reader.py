"""Reading an import file: the format, its rows (CSV or XLSX), the header, each row validated.

- The file is read row by row (csv over a text wrapper; openpyxl in read-only mode), never
  whole: memory follows the batch size and the number of failed rows, not the file.
- Every row is validated with the catalog's own field rules (`common.catalog.schemas`).
"""

from __future__ import annotations

import csv
import io
import itertools
import zipfile
from collections.abc import Generator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import PurePath
from typing import IO, Any
from xml.etree.ElementTree import ParseError

from pydantic import ValidationError

from common.catalog.schemas import (
    CategoryName,
    CostPrice,
    Price,
    ProductDescription,
    ProductName,
    Sku,
    StockLevel,
    Threshold,
)
from common.exports.cells import restore_text
from common.imports.errors import InvalidImportFile, MissingColumns, UnsupportedFileType
from common.imports.report import REPORT_COLUMNS, FileFormat, RowError
from common.schemas import Schema

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
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPES = ("text/csv", "application/csv", "text/plain", "application/vnd.ms-excel")
ZIP_MAGIC = b"PK\x03\x04"


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


Cells = list[str]


def detect_format(filename: str | None, content_type: str | None, head: bytes) -> FileFormat:
    """By extension, else by media type; then the bytes must agree."""
    suffix = PurePath(filename or "").suffix.lower()
    media_type = (content_type or "").split(";")[0].strip().lower()
    if suffix == ".xlsx" or (not suffix and media_type == XLSX_MEDIA_TYPE):
        if not head.startswith(ZIP_MAGIC):
            raise UnsupportedFileType("The file is named .xlsx but is not an Excel workbook.")
        return "xlsx"
    if suffix == ".csv" or (not suffix and media_type in CSV_MEDIA_TYPES):
        if head.startswith(ZIP_MAGIC):
            raise UnsupportedFileType("The file is named .csv but is a zip (a workbook?).")
        return "csv"
    raise UnsupportedFileType(
        f"Send a .csv (UTF-8) or .xlsx file; got {filename or 'a file without a name'!r}."
    )


def csv_rows(file: IO[bytes]) -> Generator[Cells]:
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


def xlsx_rows(file: IO[bytes]) -> Generator[Cells]:
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


def read_header(cells: Cells) -> Header:
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


def validate_row(line: int, cells: Cells, header: Header) -> ImportRow | list[RowError]:
    # A cell an export neutralized (`'=...`) reads as the text that was exported.
    values = {
        column: restore_text(cells[index])
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
