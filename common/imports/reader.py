"""Reading an import file: the format, its rows (CSV or XLSX), the header, each row validated.

- The file is read row by row (csv over a text wrapper; openpyxl in read-only mode), never
  whole: memory follows the batch size and the number of kept row errors, not the file.
- Every row is validated with the catalog's own field rules (`common.catalog.schemas`).
- Reading is bounded (`common.imports.limits`): rows, columns, CSV line length; an XLSX's part
  sizes are checked from its zip directory before anything is inflated, the sheet's declared
  `<dimension>` is ignored (read-only openpyxl would pad every row to it), and its XML is
  parsed by defusedxml (openpyxl uses it when installed), so entity declarations are refused.
- These functions block (CPU and file reads): `common.imports.service` runs them in a worker
  thread.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import struct
import zipfile
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import PurePath
from typing import IO, Any, TypeVar
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
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
from common.imports.errors import (
    InvalidImportFile,
    LineTooLong,
    MissingColumns,
    SharedStringsTooLarge,
    TooManyColumns,
    TooManyRows,
    TooManySharedStrings,
    UnsafeImportFile,
    UnsupportedFileType,
    WorkbookTooLarge,
)
from common.imports.limits import SHARED_STRINGS_PER_ROW, ImportLimits
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
# [Content_Types].xml is read whole to find the other parts: a real one is a few kilobytes.
MAX_MANIFEST_BYTES = 1024 * 1024
_Cell = TypeVar("_Cell")
# A zip's end record: its signature, then (after the disk numbers and entry counts) the
# central directory's size. A workbook's directory lists tens of parts: some kilobytes.
_END_SIGNATURE = b"PK\x05\x06"
_END_RECORD = struct.Struct("<12xL6x")
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_LOCATOR_GAP = 20  # the zip64 locator sits just before the end record
MAX_DIRECTORY_BYTES = 1024 * 1024
# The start of a shared string, `<si>` (with any namespace prefix). One in a comment counts
# too: never fewer than openpyxl will build.
_SHARED_STRING_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s/>]")


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


def _bounded(
    rows: Iterable[Sequence[_Cell]], empty: _Cell, limits: ImportLimits
) -> Iterator[Sequence[_Cell]]:
    """The rows, refused past `max_rows` lines after the header and past `max_columns` filled
    cells; empty cells beyond the limit (trailing separators, formatted blanks) are cut off."""
    for line, cells in enumerate(rows, start=1):
        if line > limits.max_rows + 1:
            raise TooManyRows(
                f"The file has more than {limits.max_rows} rows after the header "
                "(IMPORT_MAX_ROWS); split it into several files.",
                max_rows=limits.max_rows,
            )
        if len(cells) > limits.max_columns:
            beyond = cells[limits.max_columns :]
            # sequence.count runs in C: a row padded to 16,384 columns costs microseconds.
            if beyond.count(empty) != len(beyond):
                raise TooManyColumns(
                    f"Line {line} fills more than {limits.max_columns} columns "
                    "(IMPORT_MAX_COLUMNS).",
                    line=line,
                    max_columns=limits.max_columns,
                )
            cells = cells[: limits.max_columns]
        yield cells


def _bounded_lines(text: IO[str], max_chars: int) -> Iterator[str]:
    while line := text.readline(max_chars + 1):
        if len(line) > max_chars:
            raise LineTooLong(
                f"A line of the CSV file is longer than {max_chars} characters.",
                max_chars=max_chars,
            )
        yield line


def csv_rows(file: IO[bytes], limits: ImportLimits) -> Generator[Cells]:
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    reader = None
    try:
        lines = _bounded_lines(text, limits.max_csv_line_chars)
        header_line = next(lines, "")
        # Header names never contain either separator, so the commoner one is the delimiter.
        delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
        reader = csv.reader(itertools.chain([header_line], lines), delimiter=delimiter)
        for cells in _bounded(reader, "", limits):
            yield list(cells)
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


def _directory_size(file: IO[bytes]) -> int | None:
    """The central directory's size as the zip's end record declares it, found the way
    zipfile finds it; None if there is no end record (zipfile then calls the file damaged)."""
    file.seek(0, io.SEEK_END)
    length = file.tell()
    file.seek(max(0, length - _END_RECORD.size - 0xFFFF))  # the record, and a comment
    tail = file.read()
    file.seek(0)
    if tail[-_END_RECORD.size :][:4] == _END_SIGNATURE and tail[-2:] == b"\0\0":
        at = len(tail) - _END_RECORD.size
    else:
        at = tail.rfind(_END_SIGNATURE)
    if at < 0 or len(tail) - at < _END_RECORD.size:
        return None
    if tail[max(0, at - _ZIP64_LOCATOR_GAP) :][:4] == _ZIP64_LOCATOR_SIGNATURE:
        # Sizes past 4 GiB: never a workbook within the upload limit.
        return MAX_DIRECTORY_BYTES + 1
    return int(_END_RECORD.unpack_from(tail, at)[0])


def check_directory(file: IO[bytes]) -> None:
    """Refuse a zip whose directory is too large before zipfile reads it: it builds an object
    per entry (a 20 MB zip of empty entries would take seconds and hundreds of MB)."""
    size = _directory_size(file)
    if size is not None and size > MAX_DIRECTORY_BYTES:
        raise WorkbookTooLarge(
            f"The workbook's zip directory is larger than {MAX_DIRECTORY_BYTES} bytes: "
            "far more parts than a workbook has."
        )


def check_workbook(archive: zipfile.ZipFile, limits: ImportLimits) -> None:
    """Refuse a workbook whose parts would unpack to too much, before inflating any of them.

    Worksheets are streamed; every other part (the shared strings above all) is read whole
    by openpyxl, so each may unpack to at most `max_bytes`, and all parts together to
    `max_unpacked_bytes`.
    """
    from openpyxl.packaging.manifest import Manifest
    from openpyxl.xml.constants import ARC_CONTENT_TYPES, SHARED_STRINGS, WORKSHEET_TYPE
    from openpyxl.xml.functions import fromstring

    parts = archive.infolist()
    unpacked = sum(part.file_size for part in parts)
    if unpacked > limits.max_unpacked_bytes:
        raise WorkbookTooLarge(
            f"The workbook unpacks to {unpacked} bytes, more than the limit of "
            f"{limits.max_unpacked_bytes} (10 x IMPORT_MAX_BYTES).",
            max_unpacked_bytes=limits.max_unpacked_bytes,
        )
    sizes = {part.filename: part.file_size for part in parts}
    if sizes.get(ARC_CONTENT_TYPES, 0) > MAX_MANIFEST_BYTES:
        raise WorkbookTooLarge(
            f"The workbook's {ARC_CONTENT_TYPES} is larger than {MAX_MANIFEST_BYTES} bytes.",
            max_unpacked_bytes=limits.max_unpacked_bytes,
        )
    manifest = Manifest.from_tree(fromstring(archive.read(ARC_CONTENT_TYPES)))
    worksheets = {part.PartName.lstrip("/") for part in manifest.findall(WORKSHEET_TYPE)}
    shared = manifest.find(SHARED_STRINGS)
    shared_strings = shared.PartName.lstrip("/") if shared is not None else None
    limit = limits.max_shared_strings_bytes
    for name, size in sizes.items():
        if name in worksheets or size <= limit:
            continue
        if name == shared_strings:
            raise SharedStringsTooLarge(
                f"The workbook's shared strings unpack to {size} bytes, more than the limit "
                f"of {limit} (IMPORT_MAX_BYTES).",
                max_shared_strings_bytes=limit,
            )
        raise WorkbookTooLarge(
            f"The workbook's part {name!r} unpacks to {size} bytes, more than the limit of "
            f"{limit} (IMPORT_MAX_BYTES) for a part that is read whole.",
            max_unpacked_bytes=limits.max_unpacked_bytes,
        )
    if shared_strings is not None and shared_strings in sizes:
        count = count_shared_strings(archive, shared_strings, limits.max_shared_strings)
        if count > limits.max_shared_strings:
            raise TooManySharedStrings(
                f"The workbook has more than {limits.max_shared_strings} shared strings "
                f"({SHARED_STRINGS_PER_ROW} per row of IMPORT_MAX_ROWS).",
                max_shared_strings=limits.max_shared_strings,
            )


def count_shared_strings(archive: zipfile.ZipFile, name: str, limit: int) -> int:
    """The `<si>` elements of the part, counted on its inflated bytes a chunk at a time (a
    match runs in C), stopping past `limit`."""
    count = 0
    carry = b""
    with archive.open(name) as part:
        while count <= limit and (chunk := part.read(1024 * 1024)):
            data = carry + chunk
            # A tag starting at the last "<" may continue in the next chunk: it waits there.
            cut = data.rfind(b"<")
            scanned, carry = (data, b"") if cut < 0 else (data[:cut], data[cut:])
            count += len(_SHARED_STRING_START.findall(scanned))
    return count + len(_SHARED_STRING_START.findall(carry))


def xlsx_rows(file: IO[bytes], limits: ImportLimits) -> Generator[Cells]:
    # Imported here: only workbook imports pay for loading openpyxl.
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    unreadable = (zipfile.BadZipFile, InvalidFileException, KeyError, ParseError, ValueError)
    check_directory(file)
    try:
        with zipfile.ZipFile(file) as archive:
            check_workbook(archive, limits)
            # openpyxl opens the same file again (its own ZipFile): its reads start at 0.
            file.seek(0)
            workbook = load_workbook(file, read_only=True, data_only=True)
    except unreadable as error:
        raise _unreadable(error, "The workbook cannot be read") from error
    try:
        if not workbook.worksheets:
            return
        sheet = workbook.worksheets[0]
        # The declared <dimension> is the writer's claim; read-only openpyxl would pad every
        # row to its width and add its blank rows. Rows and cells come from the data alone.
        sheet.reset_dimensions()
        for values in _bounded(sheet.iter_rows(values_only=True), None, limits):
            yield [_cell_text(value) for value in values]
    except unreadable as error:
        raise _unreadable(error, "The workbook is damaged") from error
    finally:
        workbook.close()


def _unreadable(error: BaseException, problem: str) -> InvalidImportFile | UnsafeImportFile:
    """What a read error means; openpyxl wraps defusedxml's refusal in a ValueError."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, DefusedXmlException):
        cause = cause.__cause__ or cause.__context__
    if cause is not None:
        return UnsafeImportFile(
            f"The workbook's XML declares entities or external references ({cause!r}); "
            "a spreadsheet program never writes them. Save it again as .xlsx."
        )
    return InvalidImportFile(f"{problem}; save it again as .xlsx.")


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
