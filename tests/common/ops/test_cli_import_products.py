"""`python -m common.ops import-products` against the configured database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from common.db import Database
from common.inventory.audit import reconcile
from common.models import InventoryMovement, Product
from common.ops.cli import main


def write_catalog(tmp_path: Path, *rows: str) -> str:
    path = tmp_path / "catalog.csv"
    path.write_text("\n".join(["sku;name;category;price;stock", *rows]) + "\n", encoding="utf-8")
    return str(path)


async def products(database: Database) -> dict[str, int]:
    async with database.session_factory() as session:
        rows = await session.execute(select(Product.sku, Product.stock_on_hand))
        return dict(rows.tuples().all())


@pytest.mark.usefixtures("configured")
async def test_import_writes_products_and_exits_0(
    committed_database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_catalog(tmp_path, "CLI-1;Kettle;Kitchen;20.00;4", "CLI-2;Pot;Kitchen;9.99;")
    assert await asyncio.to_thread(main, ["import-products", path, "--create-categories"]) == 0
    assert "2 rows: 2 created, 0 updated, 0 unchanged, 0 failed" in capsys.readouterr().out
    assert await products(committed_database) == {"CLI-1": 4, "CLI-2": 0}
    async with committed_database.session_factory() as session:
        kinds = (await session.scalars(select(InventoryMovement.kind))).all()
        assert list(kinds) == ["import"]
        assert await reconcile(session) == []


@pytest.mark.usefixtures("configured")
async def test_failed_rows_exit_1_and_dry_run_writes_nothing(
    committed_database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_catalog(tmp_path, "CLI-1;Kettle;Kitchen;20.00;4", "CLI-2;Pot;Kitchen;free;")
    args = ["import-products", path, "--create-categories"]
    assert await asyncio.to_thread(main, args) == 1
    assert "line 3, price:" in capsys.readouterr().err
    assert await products(committed_database) == {}
    assert await asyncio.to_thread(main, [*args, "--on-error", "skip", "--dry-run"]) == 1
    assert "dry run: 2 rows: 1 created" in capsys.readouterr().out
    assert await products(committed_database) == {}
    assert await asyncio.to_thread(main, [*args, "--on-error", "skip"]) == 1
    assert await products(committed_database) == {"CLI-1": 4}


@pytest.mark.usefixtures("configured")
async def test_check_ledger_is_clean_after_creating_and_restocking_in_one_file(
    committed_database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_catalog(
        tmp_path,
        "CLI-1;Kettle;Kitchen;20.00;4",
        "CLI-2;Pot;Kitchen;9.99;0",
        "CLI-1;Kettle;Kitchen;20.00;9",
        "CLI-2;Pot;Kitchen;9.99;2",
    )
    assert await asyncio.to_thread(main, ["import-products", path, "--create-categories"]) == 0
    assert "4 rows: 2 created, 2 updated" in capsys.readouterr().out
    assert await products(committed_database) == {"CLI-1": 9, "CLI-2": 2}
    assert await asyncio.to_thread(main, ["check-ledger"]) == 0
    assert "ledger reconciled" in capsys.readouterr().out


@pytest.mark.usefixtures("configured")
def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import-products", str(tmp_path / "nope.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.usefixtures("configured")
async def test_the_import_limits_come_from_the_settings(
    committed_database: Database,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IMPORT_MAX_ROWS", "2")
    path = write_catalog(tmp_path, *(f"CLI-{n};Pot;Kitchen;9.99;1" for n in range(3)))
    assert await asyncio.to_thread(main, ["import-products", path, "--create-categories"]) == 2
    assert "more than 2 rows after the header (IMPORT_MAX_ROWS)" in capsys.readouterr().err
    assert await products(committed_database) == {}


@pytest.mark.usefixtures("configured")
async def test_past_the_first_1000_errors_the_rest_are_counted(
    committed_database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_catalog(tmp_path, *(f"CLI-{n};Pot;Kitchen;free;" for n in range(1200)))
    args = ["import-products", path, "--create-categories", "--dry-run", "--on-error", "skip"]
    assert await asyncio.to_thread(main, args) == 1
    printed = capsys.readouterr()
    assert "1200 failed" in printed.out
    assert printed.err.count(", price:") == 1000
    assert "... and 200 more row errors" in printed.err
