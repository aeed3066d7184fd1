"""What a catalog import refuses: unreadable files, missing columns, rejected rows, collisions."""

from __future__ import annotations

from common.errors import Conflict, InvalidInput, UnsupportedMediaType
from common.imports.report import ImportReport


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
