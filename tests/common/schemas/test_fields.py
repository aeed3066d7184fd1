"""Money inputs: held to the documented pattern, quantized to cents, on every money field."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from common.catalog.schemas import CostPrice, Price
from common.schemas.fields import MoneyAmount, PositiveMoneyAmount
from products_microservice.main import build_app as build_products_app
from sales_microservice.main import build_app as build_sales_app
from sales_microservice.sales.schemas import SaleCreate
from sales_microservice.wallet.schemas import Debit, TopUp, WalletAmount
from tests.fixtures.databases import make_settings

MONEY_TYPES: dict[str, Any] = {
    "MoneyAmount": MoneyAmount,
    "PositiveMoneyAmount": PositiveMoneyAmount,
    "Price": Price,
    "CostPrice": CostPrice,
    "WalletAmount": WalletAmount,
}
# Python's Decimal reads every one of these; none is what the spec offers.
OFF_PATTERN = ["1E2", "1e2", "1_000", "\uff15", "\u0665", " 5 ", "5 ", "+5", "05", "5.", ".5"]


@pytest.mark.parametrize("name", list(MONEY_TYPES))
@pytest.mark.parametrize("text", OFF_PATTERN)
def test_money_written_off_the_documented_pattern_is_refused(name: str, text: str) -> None:
    with pytest.raises(ValidationError) as raised:
        TypeAdapter(MONEY_TYPES[name]).validate_python(text)
    assert raised.value.errors()[0]["type"] == "decimal_text"


@pytest.mark.parametrize("name", list(MONEY_TYPES))
def test_every_spelling_of_an_amount_is_the_same_two_decimal_amount(name: str) -> None:
    adapter = TypeAdapter(MONEY_TYPES[name])
    for written in ("5", "5.0", "5.00", 5, 5.0):
        value = adapter.validate_python(written)
        assert (value, str(value)) == (Decimal("5.00"), "5.00")
        assert adapter.dump_json(value) == b'"5.00"'


@pytest.mark.parametrize("name", list(MONEY_TYPES))
def test_what_the_spec_documents_is_what_validation_accepts(name: str) -> None:
    adapter = TypeAdapter(MONEY_TYPES[name])
    pattern = re.compile(adapter.json_schema()["pattern"])
    for text in [
        "0",
        "0.01",
        "0.5",
        "1",
        "12.50",
        "99999.99",
        "100000",
        "9999999999.99",
        *OFF_PATTERN,
    ]:
        documented = pattern.search(text) is not None
        try:
            adapter.validate_python(text)
        except ValidationError:
            accepted = False
        else:
            accepted = True
        # Bounds a pattern cannot say (at most 100000.00) may refuse more than the pattern.
        assert accepted <= documented, text
        if not documented:
            assert not accepted, text


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (TopUp, {"amount": "1E2"}, "amount"),
        (Debit, {"amount": "1_000", "reason": "x"}, "amount"),
        (SaleCreate, {"product_id": 1, "quantity": 1, "unit_price": "\uff15"}, "unit_price"),
    ],
)
def test_request_bodies_refuse_off_pattern_money(
    model: type[BaseModel], body: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(body)
    assert raised.value.errors()[0]["loc"] == (field,)


def _money_patterns(spec: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            pattern = str(node.get("pattern", ""))
            if node.get("type") == "string" and "(\\.[0-9]" in pattern:
                found.append(pattern)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return found


@pytest.mark.parametrize("build", [build_products_app, build_sales_app])
def test_every_money_input_in_the_specs_excludes_exponents_and_other_digits(build: Any) -> None:
    spec = build(settings=make_settings("sqlite+aiosqlite://")).openapi()
    patterns = _money_patterns(json.loads(json.dumps(spec)))
    assert patterns  # the walk found the money fields
    for pattern in patterns:
        for text in OFF_PATTERN:
            assert re.search(pattern, text) is None, (pattern, text)
