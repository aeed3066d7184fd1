"""`/api/v1/exports`: the catalog and the stock ledger as CSV or XLSX files (admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from common.exports.files import ExportFormat
from common.exports.http import EXPORT_RESPONSE, dated_filename, export_format, stream_export
from common.identity.access import AdminUser
from common.web import DatabaseDep, SettingsDep, problem_responses
from products_microservice.catalog.filters import ProductFilterDep
from products_microservice.exports import service
from products_microservice.inventory.filters import LedgerFilterDep

router = APIRouter(prefix="/exports", tags=["exports"])
RESPONSES = {**problem_responses(401, 403, 422), **EXPORT_RESPONSE}
FormatDep = Annotated[ExportFormat, Depends(export_format)]


@router.get(
    "/products",
    response_class=Response,
    summary="The catalog in the import's columns: edit it and upload it back",
    description=(
        "Filters as `GET /products`. Every row imports back `unchanged`: text cells that a "
        "spreadsheet would read as a formula carry a leading apostrophe, which the import "
        "takes off again."
    ),
    responses=RESPONSES,
)
async def export_products(
    _admin: AdminUser,
    database: DatabaseDep,
    settings: SettingsDep,
    filters: ProductFilterDep,
    file_format: FormatDep,
) -> Response:
    return await stream_export(
        service.product_batches(await database.reader(), filters),
        columns=service.PRODUCT_COLUMNS,
        file_format=file_format,
        filename=dated_filename("products", datetime.now(settings.timezone).date(), file_format),
    )


@router.get(
    "/inventory-movements",
    response_class=Response,
    summary="The store-wide stock ledger, oldest first",
    description="Filters as `GET /inventory/movements`.",
    responses=RESPONSES,
)
async def export_movements(
    _admin: AdminUser,
    database: DatabaseDep,
    settings: SettingsDep,
    filters: LedgerFilterDep,
    file_format: FormatDep,
) -> Response:
    return await stream_export(
        service.movement_batches(await database.reader(), filters),
        columns=service.MOVEMENT_COLUMNS,
        file_format=file_format,
        filename=dated_filename(
            "inventory-movements", datetime.now(settings.timezone).date(), file_format
        ),
    )
