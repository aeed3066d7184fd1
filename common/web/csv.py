"""`Accept: text/csv` content negotiation for report endpoints."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import Request
from starlette.responses import Response

CSV_MEDIA_TYPE = "text/csv"

# For `responses=` of an endpoint that also answers in CSV.
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}},
        "description": "The report; as CSV when the request sends `Accept: text/csv`",
    }
}


def wants_csv(request: Request) -> bool:
    """True when the client prefers CSV over JSON (by q-value, then by order)."""
    best: tuple[float, int] | None = None
    best_type = ""
    for position, part in enumerate(request.headers.get("accept", "").split(",")):
        media_type, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media_type in (CSV_MEDIA_TYPE, "application/json", "*/*") and quality > 0:
            rank = (quality, -position)
            if best is None or rank > best:
                best, best_type = rank, media_type
    return best_type == CSV_MEDIA_TYPE


def _cell(value: Any) -> Any:
    text = "" if value is None else str(value)
    # Neutralise spreadsheet formulas in text cells (CSV injection); numbers pass unchanged.
    if text[:1] in ("=", "+", "@", "\t", "\r") or (text[:1] == "-" and not _is_number(text)):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_response(rows: Iterable[Mapping[str, Any]], *, filename: str) -> Response:
    rows = list(rows)
    buffer = io.StringIO()
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(value) for key, value in row.items()})
    return Response(
        buffer.getvalue(),
        media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
