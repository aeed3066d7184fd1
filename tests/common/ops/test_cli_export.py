"""`python -m common.ops export`: an admin's token minted from the configured database, the
service's export streamed to a file, and clear errors when it cannot be done."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient

from common.config import Settings
from common.db import Database
from common.models.identity import Role
from common.ops.cli import main
from common.ops.export import ExportFailed, admin_token, download
from products_microservice.main import build_app
from tests.fixtures.clients import make_products
from tests.fixtures.factories import make_account


async def test_export_streams_the_service_file_to_disk(
    settings: Settings, committed_database: Database, tmp_path: Path
) -> None:
    await make_products(settings, committed_database, 3, 5)
    admin = await make_account(committed_database, settings, role=Role.admin)
    token = await admin_token(settings, admin.email)
    app = build_app(settings=settings, database=committed_database)
    seen: list[int] = []
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://products") as client,
    ):
        downloaded = await download(
            client,
            "inventory-movements",
            token=token,
            params={"format": "csv"},
            output=tmp_path / "ledger.csv",
            on_bytes=seen.append,
        )
        with pytest.raises(ExportFailed, match="422"):
            await download(client, "products", token=token, params={"format": "pdf"}, output=None)
    with downloaded.path.open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [(row["kind"], row["quantity_after"]) for row in rows] == [
        ("initial", "3"),
        ("initial", "5"),
    ]
    assert sum(seen) == downloaded.bytes == downloaded.path.stat().st_size


@pytest.mark.usefixtures("configured")
async def test_export_without_an_admin_or_a_service_exits_1(
    settings: Settings,
    committed_database: Database,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    output = str(tmp_path / "x.csv")
    assert await asyncio.to_thread(main, ["export", "products", "-o", output]) == 1
    assert "no active admin" in capsys.readouterr().err
    await make_account(committed_database, settings, role=Role.admin)
    # Nothing listens on port 9 (discard): the command says so instead of a traceback.
    args = ["export", "orders", "--url", "http://127.0.0.1:9", "-o", output]
    assert await asyncio.to_thread(main, args) == 1
    assert "cannot reach" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["export", "sales", "--filter", "oops"]) == 1
    assert "key=value" in capsys.readouterr().err
