"""Formula-safe cells: what is neutralized, how CSV and XLSX cells are written, and the exact
inverse the import applies."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from common.exports.cells import neutralize_text, restore_text
from common.exports.files import CsvWriter, XlsxWriter, csv_text

TRIGGERS = ["=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20"]


@pytest.mark.parametrize("first", TRIGGERS)
def test_text_that_begins_like_a_formula_gets_an_apostrophe(first: str) -> None:
    assert neutralize_text(f"{first}1+1") == f"'{first}1+1"


@pytest.mark.parametrize("text", ["Mug", "1+1", "a=b", "", "'quoted'", "Tea - green"])
def test_other_text_is_left_alone(text: str) -> None:
    assert neutralize_text(text) == text
    assert restore_text(text) == text


def test_a_text_that_already_looks_neutralized_survives_the_round_trip() -> None:
    assert neutralize_text("'=1+1") == "''=1+1"
    assert restore_text("''=1+1") == "'=1+1"
    assert restore_text("'=1+1") == "=1+1"


@given(st.text(alphabet=st.sampled_from(["'", "a", "1", *TRIGGERS]), max_size=6) | st.text())
def test_restore_undoes_neutralize_for_every_text(text: str) -> None:
    assert restore_text(neutralize_text(text)) == text
    # And a neutralized cell never begins like a formula.
    assert neutralize_text(text)[:1] not in TRIGGERS


def test_csv_quotes_every_text_cell_and_leaves_numbers_bare() -> None:
    written = csv_text(
        ["name", "price", "change", "day", "at", "flag", "none"],
        [
            [
                "Mug;=1+1;",
                Decimal("12.50"),
                Decimal("-3.25"),
                date(2026, 3, 1),
                datetime(2026, 3, 1, 12, tzinfo=UTC),
                True,
                None,
            ]
        ],
    )
    header, row = written.splitlines()
    assert header == '"name","price","change","day","at","flag","none"'
    assert row == '"Mug;=1+1;",12.50,-3.25,"2026-03-01","2026-03-01T12:00:00+00:00","true",""'
    # A `;`-separated reader sees the whole text in one cell, never a bare `=1+1`.
    cells = next(csv.reader(io.StringIO(row), delimiter=";"))
    assert not any(cell.startswith("=") for cell in cells)


def test_csv_neutralizes_formula_text_but_not_negative_numbers() -> None:
    row = CsvWriter().rows([['=HYPERLINK("x")', "-5", -5, "\uff1dSUM(A1)"]])
    assert row == '"\'=HYPERLINK(""x"")","\'-5",-5,"\'\uff1dSUM(A1)"\n'


def test_xlsx_cells_are_text_never_formulas() -> None:
    writer = XlsxWriter("sheet")
    writer.append(
        [["name", "price"], ["=1+1", Decimal("2.50")], ["@SUM(A1)", 3], ["bell\x07", None]]
    )
    file = io.BytesIO()
    writer.save(file)
    file.seek(0)
    sheet = load_workbook(file).worksheets[0]
    assert [[cell.value for cell in row] for row in sheet.iter_rows()] == [
        ["name", "price"],
        ["'=1+1", 2.5],
        ["'@SUM(A1)", 3],
        ["bell\ufffd", None],
    ]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
