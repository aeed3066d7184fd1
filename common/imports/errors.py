"""What a catalog import refuses: unreadable files, missing columns, rejected rows, collisions,
and files past a limit of `common.imports.limits` (each its own code, naming the limit)."""

from __future__ import annotations

from common.errors import Conflict, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from common.imports.report import ImportReport


class UnsupportedFileType(UnsupportedMediaType):
    code = "unsupported_file_type"
    title = "Unsupported file type"


class InvalidImportFile(InvalidInput):
    code = "invalid_file"
    title = "The file cannot be read"


class UnsafeImportFile(InvalidInput):
    """The workbook's XML declares entities or external references (an entity bomb)."""

    code = "unsafe_xml"
    title = "The workbook's XML declares entities"


class TooManyRows(PayloadTooLarge):
    code = "too_many_rows"
    title = "The file has too many rows"


class TooManyColumns(PayloadTooLarge):
    code = "too_many_columns"
    title = "A row of the file has too many columns"


class LineTooLong(PayloadTooLarge):
    code = "line_too_long"
    title = "A line of the CSV file is too long"


class WorkbookTooLarge(PayloadTooLarge):
    """The parts of the XLSX (a zip) would unpack to more than the limit: a zip bomb."""

    code = "workbook_too_large"
    title = "The workbook unpacks to too much data"


class SharedStringsTooLarge(PayloadTooLarge):
    """The shared-strings part is read whole into memory, so it has a limit of its own."""

    code = "shared_strings_too_large"
    title = "The workbook's shared strings are too large"


class TooManySharedStrings(PayloadTooLarge):
    """openpyxl turns every shared string into an object before the first row: a part of
    small strings costs far more time and memory per byte than the sheet itself."""

    code = "too_many_shared_strings"
    title = "The workbook has too many shared strings"


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
