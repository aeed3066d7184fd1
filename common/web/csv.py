"""`Accept: text/csv` for report endpoints; the writing is `common.exports` (the one place)."""

from common.exports.files import CSV_MEDIA_TYPE
from common.exports.http import CSV_RESPONSE, csv_response, wants_csv

__all__ = ["CSV_MEDIA_TYPE", "CSV_RESPONSE", "csv_response", "wants_csv"]
