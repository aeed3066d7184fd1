"""`python -m bench [scenario...] [options]`: run benchmark scenarios (all when none named)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from bench import (
    analytics,
    api,
    argon2_cost,
    catalog,
    exports,
    harness,
    import_products,
    order_analytics,
    orders,
)

SCENARIOS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, None]]] = {
    "product-read": api.product_read,
    "product-list": api.product_list,
    "record-sale": api.record_sale,
    "order": orders.run,
    "analytics": analytics.run,
    "memory": api.memory,
    "catalog": catalog.run,
    "import": import_products.run,
    "argon2": argon2_cost.run,
    "export": exports.export_ledger,
    "roll-forward": exports.roll_forward,
    # Issue 16: who buys and how often.
    "order-analytics": order_analytics.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("scenarios", nargs="*", metavar="scenario", help=", ".join(SCENARIOS))
    harness.add_arguments(parser)
    for module in (api, analytics, catalog, import_products, argon2_cost):
        module.add_arguments(parser)
    args = parser.parse_args(argv)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    for name in args.scenarios or list(SCENARIOS):
        print(f"== {name}", flush=True)
        asyncio.run(SCENARIOS[name](args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
