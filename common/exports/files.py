"""The one place rows become CSV or XLSX: cell conversion, incremental writers, small files.

- Every text cell is neutralized (`common.exports.cells`) and, in CSV, quoted; numbers are
  written as numbers, unquoted. Dates and times are ISO 8601 text.
- Writers are incremental: `CsvWriter.rows` turns one batch into text; `XlsxWriter` appends
  to a write-only openpyxl workbook that keeps its rows in a temporary file, so memory
  follows the batch, not the file. Both are plain synchronous code; callers that stream run
  the XLSX work in a worker thread.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import IO, Any, Literal

from common.exports.cells import neutralize_text

ExportFormat = Literal["csv", "xlsx"]
CSV_MEDIA_TYPE = "text/csv"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA_TYPES: dict[ExportFormat, str] = {"csv": CSV_MEDIA_TYPE, "xlsx": XLSX_MEDIA_TYPE}
# A worksheet holds 1,048,576 rows, the header included.
XLSX_MAX_ROWS = 1_048_575
# Characters XML 1.0 cannot carry (openpyxl refuses them); a CSV keeps them.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

Cell = str | int | Decimal | float | bool | date | datetime | Enum | None
Row = Sequence[Cell]


def _text(value: Cell) -> str | None:
    """A non-number cell as text (None stays empty)."""
    if value is None:
        return None
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _is_number(value: Cell) -> bool:
    return isinstance(value, (int, Decimal, float)) and not isinstance(value, bool)


def csv_cell(value: Cell) -> str | int | Decimal | float:
    if _is_number(value):
        return value  # type: ignore[return-value]
    text = _text(value)
    return "" if text is None else neutralize_text(text)


def xlsx_cell(value: Cell) -> str | int | Decimal | float | None:
    if _is_number(value):
        return value  # type: ignore[return-value]
    text = _text(value)
    return None if text is None else _XML_ILLEGAL.sub("\ufffd", neutralize_text(text))


class CsvWriter:
    """CSV text batch by batch: text cells quoted, numbers bare, `\\n` line ends."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")

    def rows(self, rows: Iterable[Row]) -> str:
        self._writer.writerows([csv_cell(value) for value in row] for row in rows)
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text


class XlsxWriter:
    """One worksheet written row by row (openpyxl's write-only mode), saved once at the end."""

    def __init__(self, title: str) -> None:
        # Imported here: only workbook exports pay for loading openpyxl.
        from openpyxl import Workbook

        self._workbook = Workbook(write_only=True)
        self._sheet = self._workbook.create_sheet(title=title[:31])
        self.rows_written = 0

    def append(self, rows: Iterable[Row]) -> None:
        for row in rows:
            self._sheet.append([xlsx_cell(value) for value in row])
            self.rows_written += 1

    def save(self, file: IO[bytes]) -> None:
        self._workbook.save(file)


def csv_text(columns: Sequence[str], rows: Iterable[Row]) -> str:
    """A whole (small) CSV file: the header, then the rows."""
    writer = CsvWriter()
    return writer.rows([columns]) + writer.rows(rows)


def mapping_rows(rows: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[list[Cell]]]:
    """Columns (in order of first appearance) and rows of records that may lack some keys."""
    records = list(rows)
    columns: list[str] = []
    for record in records:
        columns.extend(key for key in record if key not in columns)
    return columns, [[record.get(column) for column in columns] for record in records]
