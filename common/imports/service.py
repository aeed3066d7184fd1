"""Bulk catalog import from a CSV or XLSX file: one engine for the HTTP route and the CLI.

- Rows are written in batches of `BATCH_SIZE` (`common.imports.writer`), all inside ONE
  savepoint of the caller's transaction. A dry run, or an aborted import, rolls the
  savepoint back: the database checks every row exactly as a real import would (unique keys,
  categories), yet nothing is kept.
- Rows apply in file order: a SKU that appears twice is created by its first row and
  updated by the second (the batch is written before the repeat is read).
- Reading and validating never run on the event loop: the file is read in chunks of a batch
  in worker threads, at most `PARSE_THREADS` of them in the process however many imports run
  (a capacity limiter of their own, so imports cannot take the threads other work needs). The
  loop only writes the validated batches, so other requests keep answering.
- The limits of `common.imports.limits` refuse a file as soon as it passes one, and the report
  keeps the first `max_reported_errors` row errors plus the totals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, TypeVar

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from common.catalog.naming import name_key
from common.events.outbox import emit
from common.events.types import EventType
from common.imports.errors import EmptyImportFile, ImportRejected
from common.imports.limits import ImportLimits
from common.imports.reader import (
    ZIP_MAGIC,
    Cells,
    Header,
    ImportRow,
    csv_rows,
    detect_format,
    read_header,
    validate_row,
    xlsx_rows,
)
from common.imports.report import ImportReport, ImportResult, OnError, RowError
from common.imports.writer import Counts, PendingRow, Writer

BATCH_SIZE = 500
# Worker threads reading import files at once in this process: the machine's cores are few
# and the database writes of each import wait on the loop anyway.
PARSE_THREADS = 2
PARSE_LIMITER = anyio.CapacityLimiter(PARSE_THREADS)

_Result = TypeVar("_Result")
Numbered = Iterator[tuple[int, Cells]]
Validated = tuple[int, Cells, ImportRow | list[RowError]]


@dataclass(frozen=True)
class ImportOptions:
    create_categories: bool = False
    dry_run: bool = False
    on_error: OnError = "abort"
    actor: str | None = None
    batch_size: int = BATCH_SIZE
    limits: ImportLimits = field(default_factory=ImportLimits)


def _is_blank(cells: Cells) -> bool:
    return not "".join(cells).strip()


async def _in_worker(function: Callable[..., _Result], *args: object) -> _Result:
    """`function(*args)` in a worker thread of the import limiter. Not abandoned on
    cancellation: the file's reader is never left running while the caller closes it."""
    return await anyio.to_thread.run_sync(function, *args, limiter=PARSE_LIMITER)


def _first_header(numbered: Numbered) -> Header:
    header_cells = next((cells for _, cells in numbered if not _is_blank(cells)), None)
    if header_cells is None:
        raise EmptyImportFile("The file is empty: it needs a header row and product rows.")
    return read_header(header_cells)


def _next_rows(numbered: Numbered, header: Header, size: int) -> list[Validated]:
    """Up to `size` product rows (blank ones skipped), each validated; [] at the end."""
    chunk: list[Validated] = []
    for line, cells in numbered:
        if _is_blank(cells):
            continue
        chunk.append((line, cells, validate_row(line, cells, header)))
        if len(chunk) >= size:
            break
    return chunk


async def _run(
    session: AsyncSession,
    rows: Iterator[Cells],
    options: ImportOptions,
    on_progress: Callable[[int], None] | None,
) -> tuple[Header, Counts]:
    numbered = enumerate(rows, start=1)
    header = await _in_worker(_first_header, numbered)
    writer = Writer(
        session,
        header,
        create_categories=options.create_categories,
        actor=options.actor,
        max_reported_errors=options.limits.max_reported_errors,
    )
    batch: list[PendingRow] = []
    skus: set[str] = set()

    async def flush() -> None:
        await writer.write(batch)
        if on_progress is not None:
            on_progress(len(batch))
        batch.clear()
        skus.clear()

    while chunk := await _in_worker(_next_rows, numbered, header, options.batch_size):
        for line, cells, validated in chunk:
            writer.counts.rows += 1
            if isinstance(validated, list):
                writer.fail(line, cells, validated)
                continue
            # A repeated SKU waits for the batch holding its first row to be written, so the
            # repeat updates that product instead of colliding with it.
            if validated.sku in skus or len(batch) >= options.batch_size:
                await flush()
            batch.append(
                PendingRow(
                    line=line,
                    cells=cells,
                    row=validated,
                    category_key=name_key(validated.category),
                )
            )
            skus.add(validated.sku)
    if batch:
        await flush()
    if writer.counts.rows == 0:
        raise EmptyImportFile("The file has a header row but no product rows.")
    return header, writer.counts


async def import_products(
    session: AsyncSession,
    file: IO[bytes],
    *,
    filename: str | None,
    content_type: str | None = None,
    options: ImportOptions,
    on_progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import a catalog file into the session's transaction (flushes only).

    Raises `ImportRejected` (nothing kept) when `on_error="abort"` and a row failed, except in
    a dry run, which always reports. Safe to rerun on a retried transaction: it reads the file
    from the start.
    """
    file.seek(0)
    head = file.read(len(ZIP_MAGIC))
    file.seek(0)
    if not head:
        raise EmptyImportFile("The file is empty: it needs a header row and product rows.")
    file_format = detect_format(filename, content_type, head)
    read = csv_rows if file_format == "csv" else xlsx_rows
    rows = read(file, options.limits)
    savepoint = await session.begin_nested()
    try:
        header, counts = await _run(session, rows, options, on_progress)
    except BaseException:
        await savepoint.rollback()
        raise
    finally:
        # Closing the generator runs its cleanup (detach the text wrapper, close the workbook).
        rows.close()
    rejected = options.on_error == "abort" and counts.failed > 0
    if options.dry_run or rejected:
        await savepoint.rollback()
    else:
        await savepoint.commit()
    report = ImportReport(
        format=file_format,
        dry_run=options.dry_run,
        on_error=options.on_error,
        rows=counts.rows,
        created=counts.created,
        updated=counts.updated,
        unchanged=counts.unchanged,
        failed=counts.failed,
        categories_created=counts.categories_created,
        stock_movements=counts.stock_movements,
        ignored_columns=header.ignored,
        errors=[error for failed in counts.failed_rows for error in failed.errors],
        errors_total=counts.errors_total,
    )
    if rejected and not options.dry_run:
        raise ImportRejected(report)
    if not options.dry_run:
        emit(
            session,
            EventType.IMPORT_FINISHED,
            {**report.model_dump(mode="json", exclude={"errors"}), "actor": options.actor},
        )
    return ImportResult(report=report, header=header.cells, failed_rows=counts.failed_rows)
