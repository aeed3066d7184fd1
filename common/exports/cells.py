"""Formula-safe text cells: the one rule every CSV and XLSX this project writes follows, and
its exact inverse, which the catalog import applies.

A spreadsheet reads a text cell that begins with `= + - @` (or their full-width forms
U+FF1D, U+FF0B, U+FF0D and U+FF20, which Excel folds to them), a tab or a carriage return
as the start of a formula. Such a cell is written with one apostrophe in front (the OWASP
advice for CSV injection).
A text that already begins with apostrophes followed by such a character gets one more, so
`restore_text` can take exactly one off and every text survives a round trip unchanged:

    restore_text(neutralize_text(text)) == text    for every text

Numbers are not text cells: they are written as numbers and never prefixed (-3.50 stays a
number a spreadsheet can add up).
"""

from __future__ import annotations

QUOTE = "'"
FORMULA_TRIGGERS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")


def _needs_quote(text: str) -> bool:
    return text.lstrip(QUOTE)[:1] in FORMULA_TRIGGERS


def neutralize_text(text: str) -> str:
    """`text` as a cell no spreadsheet evaluates."""
    return QUOTE + text if _needs_quote(text) else text


def restore_text(cell: str) -> str:
    """The text `neutralize_text` wrote as `cell` (any other cell is returned as it is)."""
    if cell.startswith(QUOTE) and _needs_quote(cell[1:]):
        return cell[1:]
    return cell
