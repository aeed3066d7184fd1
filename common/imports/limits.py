"""How much an import may read: rows, columns, CSV lines, an XLSX's unpacked parts and its
shared strings, and how many row errors its report keeps.

- Every limit is checked while reading, before the row past it is validated or written, and
  a breach refuses the whole file (nothing is written).
- An XLSX is a zip: the sizes its central directory declares are checked before anything is
  decompressed. They can be trusted as an upper bound: Python's zipfile never inflates a part
  past its declared size (a part that lies fails its CRC and is refused as damaged).
- The shared-strings part is the one part openpyxl reads whole into memory (worksheets are
  streamed), so it has its own, tighter limits: its unpacked size, and the number of strings,
  counted on the inflated bytes (bounded by the size) before openpyxl builds one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.config import Settings

# A zip of XML compresses some 5-10 times; a legitimate workbook within IMPORT_MAX_BYTES
# unpacks to less than this multiple of it.
UNPACKED_RATIO = 10
# A catalog's distinct texts are its SKUs, names, descriptions and categories: at most some
# four per row. (openpyxl spends tens of microseconds on each shared string.)
SHARED_STRINGS_PER_ROW = 4
# The report and the failed-rows CSV keep the first this many row errors, plus the totals.
MAX_REPORTED_ERRORS = 1000
# A CSV line (one physical line: a quoted field may span several) longer than this is refused:
# the csv module builds a whole record in memory before its cells can be counted. (A single
# cell is held to the csv module's own field limit, 128 KiB: past it the file is invalid.)
MAX_CSV_LINE_CHARS = 4 * 1024 * 1024


def _default(setting: str) -> int:
    default = Settings.model_fields[setting].default
    assert isinstance(default, int)
    return default


@dataclass(frozen=True)
class ImportLimits:
    max_rows: int = _default("import_max_rows")
    max_columns: int = _default("import_max_columns")
    max_bytes: int = _default("import_max_bytes")
    max_reported_errors: int = MAX_REPORTED_ERRORS
    max_csv_line_chars: int = MAX_CSV_LINE_CHARS

    @classmethod
    def from_settings(cls, settings: Settings) -> ImportLimits:
        return cls(
            max_rows=settings.import_max_rows,
            max_columns=settings.import_max_columns,
            max_bytes=settings.import_max_bytes,
        )

    @property
    def max_unpacked_bytes(self) -> int:
        return UNPACKED_RATIO * self.max_bytes

    @property
    def max_shared_strings_bytes(self) -> int:
        return self.max_bytes

    @property
    def max_shared_strings(self) -> int:
        return SHARED_STRINGS_PER_ROW * (self.max_rows + 1)
