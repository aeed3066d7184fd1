"""`python -m bench [scenario...] [options]`: run benchmark scenarios (all when none named)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable

from bench import catalog, import_products

SCENARIOS: dict[str, Callable[[argparse.Namespace], Awaitable[None]]] = {
    "catalog": catalog.run,
    "import": import_products.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("scenarios", nargs="*", metavar="scenario", help=", ".join(SCENARIOS))
    catalog.add_arguments(parser)
    import_products.add_arguments(parser)
    args = parser.parse_args(argv)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    for name in args.scenarios or list(SCENARIOS):
        print(f"== {name}")
        asyncio.run(SCENARIOS[name](args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
