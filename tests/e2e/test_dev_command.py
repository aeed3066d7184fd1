"""`./docker-manager.sh dev` as a newcomer runs it: real script, real uvicorn processes, an
SQLite store under a `var/` of the test's own (`DEV_VAR_DIR`).

`SKIP_INSTALL=1` makes the script use the `.venv` the tests run from as it is, instead of
reinstalling into it under the running test session."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import stat
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from common.migrations import REPO_ROOT
from tests.fixtures.processes import free_port

SCRIPT = REPO_ROOT / "docker-manager.sh"
VENV = REPO_ROOT / ".venv"
# Small enough for a test; the demo's shape is covered by tests/common/ops/test_seed_demo.py.
DEMO_OPTIONS = "--products 6 --days 10 --sales 40 --customers 3 --orders 4"
ADMIN_LINE = re.compile(r"development admin created: e-mail (\S+) password (\S+)")

pytestmark = pytest.mark.skipif(
    Path(sys.prefix).resolve() != VENV.resolve(),
    reason="runs `./docker-manager.sh dev`, which uses the checkout's .venv: run the tests "
    "from that .venv (as `./docker-manager.sh test` does)",
)


def dev_environment(var_dir: Path, products_port: int, sales_port: int) -> dict[str, str]:
    drop = {"DATABASE_URL", "DATABASE_READ_URL", "JWT_SECRET", "APP_ENV"}
    return {name: value for name, value in os.environ.items() if name not in drop} | {
        "DEV_VAR_DIR": str(var_dir),
        "PRODUCTS_PORT": str(products_port),
        "SALES_PORT": str(sales_port),
        "SKIP_INSTALL": "1",
        "DEV_DEMO_OPTIONS": DEMO_OPTIONS,
        "LOG_LEVEL": "WARNING",
        # A cheap Argon2 profile, so sign-in stays fast on a shared test machine.
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_COST_KIB": "8",
        "PASSWORD_HASH_PARALLELISM": "1",
    }


@asynccontextmanager
async def dev(
    var_dir: Path, products_port: int, sales_port: int, *options: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        "bash", str(SCRIPT), "dev", *options,
        env=dev_environment(var_dir, products_port, sales_port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # so a failed test can stop the script and its services
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


def serving_processes(port: int) -> list[psutil.Process]:
    """Processes whose command line serves `port` (a uvicorn the script started)."""
    found = []
    for candidate in psutil.process_iter(["cmdline"]):
        cmdline = candidate.info["cmdline"] or []
        if "uvicorn" in " ".join(cmdline) and str(port) in cmdline:
            found.append(candidate)
    return found


async def test_dev_with_a_port_taken_exits_non_zero_and_leaves_no_service_running(
    tmp_path: Path,
) -> None:
    sales_port = free_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        products_port = squatter.getsockname()[1]
        async with dev(tmp_path, products_port, sales_port, "--empty") as process:
            out, err = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode not in (0, None)
    assert f"products (:{products_port}) exited" in err.decode(), (out + err).decode()
    assert serving_processes(sales_port) == []
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", sales_port)) != 0  # nothing listens there


async def read_until(stream: asyncio.StreamReader, marker: str, seen: list[str]) -> None:
    while True:
        line = (await stream.readline()).decode()
        if not line:
            raise AssertionError(f"the script ended before {marker!r}: {''.join(seen)}")
        seen.append(line)
        if marker in line:
            return


async def wait_ready(client: httpx.AsyncClient, url: str) -> None:
    for _ in range(300):
        try:
            if (await client.get(f"{url}/ready")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not become ready")


async def test_dev_on_an_empty_directory_loads_the_demo_and_prints_an_admin_who_signs_in(
    tmp_path: Path,
) -> None:
    products_port, sales_port = free_port(), free_port()
    products, sales = f"http://127.0.0.1:{products_port}", f"http://127.0.0.1:{sales_port}"
    async with dev(tmp_path, products_port, sales_port) as process:
        assert process.stdout is not None
        seen: list[str] = []
        await asyncio.wait_for(read_until(process.stdout, "Ctrl-C stops both", seen), 300)
        match = next(filter(None, (ADMIN_LINE.search(line) for line in seen)), None)
        assert match is not None, "".join(seen)
        email, password = match.groups()
        async with httpx.AsyncClient(timeout=30) as client:
            await wait_ready(client, products)
            await wait_ready(client, sales)
            signed_in = await client.post(
                f"{sales}/auth/token", data={"username": email, "password": password}
            )
            assert signed_in.status_code == 200, signed_in.text
            headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
            catalog = await client.get(f"{products}/api/v1/products", headers=headers)
            customers = await client.get(f"{sales}/api/v1/customers", headers=headers)
        assert catalog.json()["total"] == 6
        roles = sorted(account["role"] for account in customers.json()["items"])
        assert roles == ["admin", "customer", "customer", "customer"]
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), timeout=60)
    credentials = tmp_path / "dev-admin.txt"
    assert credentials.read_text() == f"email: {email}\npassword: {password}\n"
    for private in (credentials, tmp_path / "jwt_secret"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert len((tmp_path / "jwt_secret").read_text().strip()) >= 32
    assert serving_processes(products_port) == serving_processes(sales_port) == []
