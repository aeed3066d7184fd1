"""HTTP for the bulk catalog import; the engine is `common.imports` (the CLI uses it too)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from common.identity.access import AdminUser
from common.imports.limits import ImportLimits
from common.imports.report import ImportReport, ImportResult, OnError, failed_rows_csv
from common.imports.service import ImportOptions, import_products
from common.web import SettingsDep, UnitOfWorkDep, problem_responses
from common.web.uploads import receive_upload, upload_request_body

router = APIRouter(prefix="/products/import", tags=["products"])
UPLOAD_FIELD = "file"


async def _upload(request: Request, settings: SettingsDep) -> AsyncIterator[UploadFile]:
    form = await receive_upload(request, field=UPLOAD_FIELD, max_bytes=settings.import_max_bytes)
    try:
        upload = form[UPLOAD_FIELD]
        assert isinstance(upload, UploadFile)  # receive_upload checked it
        yield upload
    finally:
        await form.close()


@router.post(
    "",
    response_model=ImportReport,
    summary="Create and update products from a CSV or XLSX file (upsert by SKU)",
    description=(
        "Columns: sku, name, category, price (required), description, cost_price, "
        "low_stock_threshold, stock. `on_error=abort` (default) writes nothing when any row "
        "fails and answers 422 `import_rejected` with the report; `skip` writes the good rows. "
        "`dry_run=true` validates everything and writes nothing. `format=csv` answers with the "
        "failed rows as CSV (original columns plus line, column, reason) to fix and re-upload. "
        "The report and the CSV keep the first 1,000 row errors; `failed` and `errors_total` "
        "(headers `Import-Failed-Rows`, `Import-Errors-Total` with the CSV) count them all. "
        "Files past `IMPORT_MAX_ROWS`, `IMPORT_MAX_COLUMNS` or a workbook's unpacked-size "
        "limits are refused with 413 naming the limit; XML entity declarations with 422."
    ),
    responses={
        status.HTTP_200_OK: {
            "content": {"text/csv": {}},
            "description": "The report, or the failed rows",
            "headers": {
                name: {"description": description, "schema": {"type": "integer"}}
                for name, description in (
                    ("Import-Failed-Rows", "With `format=csv`: every failed row, counted"),
                    ("Import-Errors-Total", "With `format=csv`: every row error, counted"),
                )
            },
        },
        **problem_responses(400, 401, 403, 413, 415, 422, 409),
    },
    openapi_extra=upload_request_body(UPLOAD_FIELD, "The catalog file (.csv UTF-8 or .xlsx)"),
)
async def import_catalog(
    unit_of_work: UnitOfWorkDep,
    admin: AdminUser,
    settings: SettingsDep,
    upload: Annotated[UploadFile, Depends(_upload)],
    create_categories: Annotated[
        bool, Query(description="Create categories the file names that do not exist yet")
    ] = False,
    dry_run: Annotated[bool, Query(description="Validate and report; write nothing")] = False,
    on_error: Annotated[OnError, Query()] = "abort",
    response_format: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> ImportReport | Response:
    options = ImportOptions(
        create_categories=create_categories,
        dry_run=dry_run,
        on_error=on_error,
        actor=admin.actor,
        limits=ImportLimits.from_settings(settings),
    )

    async def work(session: AsyncSession) -> ImportResult:
        return await import_products(
            session,
            upload.file,
            filename=upload.filename,
            content_type=upload.content_type,
            options=options,
        )

    result = await unit_of_work.run(work)
    if response_format == "csv":
        return Response(
            failed_rows_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="failed-rows.csv"',
                # The CSV holds the rows of the first 1,000 errors; these say how many there are.
                "Import-Failed-Rows": str(result.report.failed),
                "Import-Errors-Total": str(result.report.errors_total),
            },
        )
    return result.report
