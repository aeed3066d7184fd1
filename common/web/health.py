"""Liveness, readiness and nothing else: probes must stay cheap."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from prometheus_client import Gauge
from pydantic import BaseModel
from sqlalchemy import text

from common import __version__
from common.errors import DatabaseUnavailable
from common.web.dependencies import DatabaseDep, SettingsDep
from common.web.openapi import problem_responses

router = APIRouter(tags=["health"])

# Each `/ready` answer, on `/metrics` (every app registers it): the readiness alert reads it.
READINESS = Gauge(
    "readiness_status",
    "1 when the last /ready probe found the database answering, else 0.",
    labelnames=["service"],
    registry=None,
)
READINESS_CHECKED = Gauge(
    "readiness_last_check_timestamp_seconds",
    "Unix time of the last /ready probe.",
    labelnames=["service"],
    registry=None,
)
HEALTH_METRICS = (READINESS, READINESS_CHECKED)


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Readiness(BaseModel):
    status: Literal["ready"]
    database: Literal["ok"]


@router.get("/health", response_model=Health, summary="Process is alive")
async def health() -> Health:
    return Health(status="ok", version=__version__)


@router.get(
    "/ready",
    response_model=Readiness,
    summary="Database is reachable",
    responses=problem_responses(503),
)
async def ready(request: Request, database: DatabaseDep, settings: SettingsDep) -> Readiness:
    async def ping() -> None:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    service = str(request.app.state.service)
    READINESS_CHECKED.labels(service=service).set_to_current_time()
    try:
        await asyncio.wait_for(ping(), timeout=settings.db_connect_timeout + 1)
    except Exception as error:
        READINESS.labels(service=service).set(0)
        raise DatabaseUnavailable(
            "The database did not answer.", headers={"Retry-After": "5"}
        ) from error
    READINESS.labels(service=service).set(1)
    return Readiness(status="ready", database="ok")
