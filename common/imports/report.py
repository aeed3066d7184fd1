"""What an import reports: counts, row errors, and the failed rows as a CSV to fix and resend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from common.exports.cells import restore_text
from common.exports.files import Row, csv_text
from common.schemas import Schema

FileFormat = Literal["csv", "xlsx"]
OnError = Literal["abort", "skip"]
# Columns the failed-rows CSV adds; a corrected file sent back with them is accepted.
REPORT_COLUMNS = ("line", "column", "reason")


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
    failed: int = Field(description="Rows that failed, all of them")
    categories_created: int
    stock_movements: int = Field(description="`import` movements written to the stock ledger")
    ignored_columns: list[str] = Field(description="Header cells that are not import columns")
    errors: list[RowError] = Field(
        description="The first 1,000 row errors, in file order (`errors_total` counts them all)"
    )
    errors_total: int = Field(description="Row errors found in the whole file")


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


def failed_rows_csv(result: ImportResult) -> str:
    """The failed rows with their original cells, plus line, column and reason: fix the
    cells and upload the file again (the three report columns are ignored on import).

    Written like every export (`common.exports`): text quoted and formula cells neutralized.
    A cell is echoed as the text the import read from it, so sending this file back reads
    each cell exactly as the original file did."""
    width = len(result.header)
    rows: list[Row] = []
    for failed in result.failed_rows:
        cells = [restore_text(cell) for cell in (failed.cells + [""] * width)[:width]]
        columns = "; ".join(error.column or "" for error in failed.errors)
        reasons = "; ".join(error.reason for error in failed.errors)
        rows.append([*cells, failed.line, columns, reasons])
    return csv_text([*result.header, *REPORT_COLUMNS], rows)
