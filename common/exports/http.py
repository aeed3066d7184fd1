"""Download responses: which format a client asked for, small CSV reports, streamed exports.

A streamed export reads its rows in keyset batches from one read session (one consistent
snapshot on MySQL) while the response is being sent: memory follows the batch size, never
the table. The first batch is read before the response starts, so a bad filter or an
unreachable database still answers with a problem instead of a cut-off file. An XLSX is
assembled in a temporary file (in a worker thread) and sent once complete; a sheet holds at
most `XLSX_MAX_ROWS` rows, and a larger export is refused (422 `export_too_large`) before
anything is sent.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import IO, Annotated, Any

from fastapi import Query, Request
from sqlalchemy import ColumnElement, Select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import Response, StreamingResponse

from common.errors import InvalidInput
from common.exports.files import (
    CSV_MEDIA_TYPE,
    MEDIA_TYPES,
    XLSX_MAX_ROWS,
    XLSX_MEDIA_TYPE,
    CsvWriter,
    ExportFormat,
    Row,
    XlsxWriter,
    csv_text,
    mapping_rows,
)

# Small enough that other requests on the loop wait for at most one batch's reading.
BATCH_ROWS = 500
_FILE_CHUNK = 64 * 1024

# For `responses=` of an endpoint that also answers in CSV.
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}},
        "description": "The report; as CSV when the request sends `Accept: text/csv`",
    }
}
# For `responses=` of an export endpoint.
EXPORT_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            CSV_MEDIA_TYPE: {"schema": {"type": "string"}},
            XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "The file, as an attachment with a dated name",
    }
}


class ExportTooLarge(InvalidInput):
    code = "export_too_large"
    title = "Too many rows for a worksheet"


def _preferred(request: Request, candidates: Sequence[str]) -> str | None:
    """The candidate media type the client prefers (by q-value, then by order)."""
    best: tuple[float, int] | None = None
    best_type: str | None = None
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
        if media_type in candidates and quality > 0:
            rank = (quality, -position)
            if best is None or rank > best:
                best, best_type = rank, media_type
    return best_type


def wants_csv(request: Request) -> bool:
    """True when the client prefers CSV over JSON."""
    return _preferred(request, (CSV_MEDIA_TYPE, "application/json", "*/*")) == CSV_MEDIA_TYPE


async def export_format(
    request: Request,
    format: Annotated[
        ExportFormat | None,
        Query(description="`csv` or `xlsx`; without it, by `Accept` (default CSV)"),
    ] = None,
) -> ExportFormat:
    """The file format of an export: `format=`, else `Accept`, else CSV."""
    if format is not None:
        return format
    return (
        "xlsx"
        if _preferred(request, (CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE)) == XLSX_MEDIA_TYPE
        else "csv"
    )


def attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def dated_filename(stem: str, day: date, file_format: ExportFormat) -> str:
    return f"{stem}-{day.isoformat()}.{file_format}"


def csv_response(rows: Iterable[Mapping[str, Any]], *, filename: str) -> Response:
    """A small report already in memory, as a CSV attachment."""
    columns, values = mapping_rows(rows)
    return Response(
        csv_text(columns, values),
        media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
        headers=attachment(filename),
    )


async def keyset_batches(
    session_factory: async_sessionmaker[AsyncSession],
    statement: Select[Any],
    *,
    key: ColumnElement[int],
    to_row: Callable[[Any], Row],
    batch_rows: int | None = None,
) -> AsyncIterator[list[Row]]:
    """The rows of `statement` in batches ordered by `key` (a positive integer primary key
    the statement selects under its own name), each batch one index range after the last.
    Columns of other tables are best selected as scalar subqueries rather than joins, so
    the database walks `key`'s table in order and looks each row's neighbours up."""
    name = str(key.key)
    batch_rows = batch_rows or BATCH_ROWS
    # Ids start at 1. The bound is there from the first batch on, so every batch is a range
    # of `key`'s index read in order, never a sort of the whole table to find its first rows.
    last: Any = 0
    async with session_factory() as session:
        while True:
            page = statement.where(key > last).order_by(key).limit(batch_rows)
            rows = (await session.execute(page)).all()
            if rows:
                yield [to_row(row) for row in rows]
                last = getattr(row_key := rows[-1], name, None)
                if last is None:
                    raise AssertionError(f"the statement does not select {name!r}: {row_key}")
            if len(rows) < batch_rows:
                return


async def stream_export(
    batches: AsyncIterator[Sequence[Row]],
    *,
    columns: Sequence[str],
    file_format: ExportFormat,
    filename: str,
    on_rows: Callable[[int], None] | None = None,
) -> Response:
    """The rows of `batches` under a header of `columns`, as a CSV stream or an XLSX file."""
    if file_format == "xlsx":
        return await _xlsx_response(batches, columns=columns, filename=filename)
    first: Sequence[Row] | None = await anext(aiter(batches), None)
    writer = CsvWriter()

    async def body() -> AsyncIterator[bytes]:
        yield writer.rows([columns]).encode()
        batch = first
        while batch:
            # Formatted in a worker thread: the event loop keeps serving other requests.
            yield (await asyncio.to_thread(writer.rows, batch)).encode()
            if on_rows is not None:
                on_rows(len(batch))
            batch = await anext(aiter(batches), None)

    return StreamingResponse(
        body(), media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8", headers=attachment(filename)
    )


async def _xlsx_response(
    batches: AsyncIterator[Sequence[Row]], *, columns: Sequence[str], filename: str
) -> Response:
    file = tempfile.TemporaryFile()  # noqa: SIM115  (closed when the body is sent, or on error)
    try:
        writer = await asyncio.to_thread(XlsxWriter, filename.rsplit(".", 1)[0])
        await asyncio.to_thread(writer.append, [columns])
        async for batch in batches:
            if writer.rows_written - 1 + len(batch) > XLSX_MAX_ROWS:
                raise ExportTooLarge(
                    f"A worksheet holds at most {XLSX_MAX_ROWS} rows; narrow the filters or "
                    "export as CSV.",
                    max_rows=XLSX_MAX_ROWS,
                )
            await asyncio.to_thread(writer.append, batch)
        await asyncio.to_thread(writer.save, file)
        await asyncio.to_thread(file.seek, 0)
    except BaseException:
        file.close()
        raise
    return StreamingResponse(
        _file_chunks(file), media_type=MEDIA_TYPES["xlsx"], headers=attachment(filename)
    )


async def _file_chunks(file: IO[bytes]) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(file.read, _FILE_CHUNK):
            yield chunk
    finally:
        file.close()
