"""Real service processes for end-to-end fault tests: `uvicorn <service>.main:app` on a port of
its own, against a test database, started, killed and restarted as an operator would."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager

import httpx

from tests.conftest import Backend

SALES_APP = "sales_microservice.main:app"
PRODUCTS_APP = "products_microservice.main:app"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServiceProcess:
    """One uvicorn process of `app` (`SALES_APP`, `PRODUCTS_APP`) on the backend's database.

    `environment` overrides the settings the process reads (e.g. `DATABASE_URL` pointing at a
    proxy, `DB_CONNECT_TIMEOUT`)."""

    def __init__(
        self, backend: Backend, app: str, *, environment: Mapping[str, str] | None = None
    ) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": backend.url,
            "APP_ENV": "test",
            "LOG_LEVEL": "WARNING",
            "SWEEP_INTERVAL_SECONDS": "0",
            "JWT_SECRET": backend.settings.jwt_secret.get_secret_value(),
            # The test's cheap Argon2 profile, so logins stay fast here too.
            "PASSWORD_HASH_TIME_COST": str(backend.settings.password_hash_time_cost),
            "PASSWORD_HASH_MEMORY_COST_KIB": str(backend.settings.password_hash_memory_cost_kib),
            "PASSWORD_HASH_PARALLELISM": str(backend.settings.password_hash_parallelism),
            **(environment or {}),
        }
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "uvicorn", self.app,
            "--host", "127.0.0.1", "--port", str(self.port),
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        async with httpx.AsyncClient(base_url=self.url) as client:
            for _ in range(150):
                if self.process.returncode is not None:
                    break
                try:
                    if (await client.get("/ready")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        await self.kill()
        raise AssertionError(f"{self.app} did not become ready on port {self.port}")

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await asyncio.wait_for(self.process.wait(), timeout=10)


@asynccontextmanager
async def running(*processes: ServiceProcess) -> AsyncIterator[None]:
    """Start the processes side by side; kill them all on the way out, whatever happened."""
    try:
        await asyncio.gather(*(process.start() for process in processes))
        yield
    finally:
        await asyncio.gather(*(process.kill() for process in processes))


class RoundRobin:
    """Clients of several replicas of one service, handed out in turn: the load balancer."""

    def __init__(self, clients: list[httpx.AsyncClient]) -> None:
        self._turns: Iterator[httpx.AsyncClient] = itertools.cycle(clients)

    def next(self) -> httpx.AsyncClient:
        return next(self._turns)


@asynccontextmanager
async def round_robin(*processes: ServiceProcess) -> AsyncIterator[RoundRobin]:
    """A `RoundRobin` over one client per process. The generous timeout is a backstop for a
    loaded test machine; tests that care about time measure it themselves."""
    clients = [httpx.AsyncClient(base_url=p.url, timeout=30) for p in processes]
    try:
        yield RoundRobin(clients)
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
