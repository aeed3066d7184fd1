"""Request paths under wrk: each path of a service next to its two floors, in the same run.

The strict floor is `bench/raw_app.py`'s least SQL for the request; the "same statements" floor
is the raw app replaying exactly the SQL the service sends for it (`/same/...`). Every
contender runs `--wrk-rounds` rounds of `--wrk-seconds`, taken in turn (A B C A B C ...) so a
busy moment of the machine falls on all of them alike, after one short warm-up round each; the
best round of each is shown, with its ratio to both floors."""

from __future__ import annotations

import argparse
from contextlib import AsyncExitStack
from dataclasses import dataclass

from bench import api, harness
from bench.wrk import WrkRun, run_wrk, wrk_binary

PRODUCT_READ_CONNECTIONS = 16
WARM_UP_SECONDS = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("wrk")
    group.add_argument("--wrk-rounds", type=int, default=3, help="rounds per contender")
    group.add_argument("--wrk-seconds", type=float, default=10.0, help="seconds per round")


@dataclass(frozen=True)
class WrkContender:
    name: str
    app: str
    template: str  # the path, with {n} where the random number goes


def best(runs: list[WrkRun]) -> WrkRun:
    return max(runs, key=lambda run: run.rps)


def table(path: str, results: dict[str, WrkRun], *, raw: str, same: str) -> str:
    lines = [
        "| path | server | requests | req/s | p50 ms | p99 ms | non-2xx | "
        "vs same statements | vs raw floor |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in results.items():
        lines.append(
            f"| {path} | {name} | {run.requests} | {run.rps:.0f} | {run.p50_ms:.1f} | "
            f"{run.p99_ms:.1f} | {run.non_2xx + run.socket_errors} | "
            f"{run.rps / results[same].rps:.2f}x | {run.rps / results[raw].rps:.2f}x |"
        )
    return "\n".join(lines)


async def compare(
    args: argparse.Namespace,
    path: str,
    contenders: list[WrkContender],
    *,
    numbers: tuple[int, int, int],
    connections: int,
) -> dict[str, WrkRun]:
    """`contenders` (the strict floor first, then the same-statements floor, then the
    services) in alternating wrk rounds; the best round of each."""
    wrk_binary()  # say how to install it before seeding anything
    url = await api.store(args)
    low, high, step = numbers
    async with AsyncExitStack() as stack:
        servers = {
            contender.app: await stack.enter_async_context(
                harness.running(contender.app, contender.app, url)
            )
            for contender in contenders
            if contender.app
        }

        async def round_of(contender: WrkContender, seconds: float) -> WrkRun:
            return await run_wrk(
                contender.name,
                servers[contender.app].base_url,
                "random_get.lua",
                [contender.template, str(low), str(high), str(step)],
                connections=connections,
                seconds=seconds,
            )

        for contender in contenders:
            await round_of(contender, WARM_UP_SECONDS)
        runs: dict[str, list[WrkRun]] = {contender.name: [] for contender in contenders}
        for _ in range(args.wrk_rounds):
            for contender in contenders:
                runs[contender.name].append(await round_of(contender, args.wrk_seconds))
    results = {name: best(rounds) for name, rounds in runs.items()}
    raw, same = contenders[0].name, contenders[1].name
    print(
        f"{path}, {connections} connections, best of {args.wrk_rounds} alternating "
        f"{args.wrk_seconds:.0f} s wrk rounds"
    )
    print(table(path, results, raw=raw, same=same))
    print()
    return results


async def product_read(args: argparse.Namespace) -> None:
    await compare(
        args,
        "GET /products/{id}",
        [
            WrkContender("raw floor", api.RAW_APP, "/products/{n}"),
            WrkContender("raw, same statements", api.RAW_APP, "/same/products/{n}"),
            WrkContender("products service", api.PRODUCTS_APP, "/api/v1/products/{n}"),
        ],
        numbers=(1, api.STORE.products, 1),
        connections=PRODUCT_READ_CONNECTIONS,
    )
