"""The benchmark suite is not run by the tests, but what it sets up must stay valid: its
command line parses and every demo store it seeds is one `seed-demo` accepts."""

from __future__ import annotations

import pytest

from bench import analytics, api
from bench.__main__ import SCENARIOS, main
from common.ops.demo.options import DemoOptions


@pytest.mark.parametrize("sales", [*analytics.SIZES, analytics.LARGE])
def test_analytics_stores_are_valid_demo_options(sales: int) -> None:
    options = analytics.store_options(sales)
    assert (options.sales, options.orders) == (sales, 0)


def test_the_request_path_store_has_customers_for_its_orders() -> None:
    assert isinstance(api.STORE, DemoOptions)
    assert api.STORE.customers > 0


def test_every_scenario_is_known_and_unknown_ones_are_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert {"product-read", "record-sale", "order", "analytics", "memory", "import"} <= set(
        SCENARIOS
    )
    with pytest.raises(SystemExit) as refused:
        main(["no-such-scenario"])
    assert refused.value.code == 2
    assert "unknown scenario" in capsys.readouterr().err


def test_the_argon2_scenario_measures_the_default_profile(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["argon2", "--argon2-rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "argon2id t=3 m=65536 KiB p=4" in out
    assert "hash:   median" in out
    assert "verify: median" in out
