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
    dashboard,
    exports,
    harness,
    import_products,
    order_analytics,
    orders,
    outbox,
    registration,
    wrk_paths,
)
from bench.galera import add_arguments as add_galera_arguments
from bench.galera import run as galera

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
    # identity hardening: registrations hashed under the Argon2 cap
    "registration": registration.run,
    # Load from wrk in its own process (issue 15): each path next to its two raw floors.
    "wrk-product-read": wrk_paths.product_read,
    # The overview in headless Chromium, cold and warm, and its page weight.
    "dashboard": dashboard.run,
    # A local three-node Galera cluster against one of its nodes (deploy/galera).
    "galera": galera,
    # Issue 16: who buys and how often.
    "order-analytics": order_analytics.run,
}
# Events (docs/events.md): what the outbox costs POST /sales and order payment.
SCENARIOS["outbox"] = outbox.run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("scenarios", nargs="*", metavar="scenario", help=", ".join(SCENARIOS))
    harness.add_arguments(parser)
    modules = (api, analytics, catalog, import_products, argon2_cost, registration, wrk_paths)
    for module in (*modules, dashboard):
        module.add_arguments(parser)
    add_galera_arguments(parser)
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
