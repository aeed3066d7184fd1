"""A service as deployed: `uvicorn <service>.main:app` in a process of its own.

The process owns its engine and event loop, so a test drives it over real HTTP without sharing
connections or a loop with the test (fuzzers, crash tests).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys

import httpx

from tests.conftest import Backend


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServiceProcess:
    """`uvicorn <module>:app` on a free port, against the backend's database."""

    def __init__(self, backend: Backend, module: str = "sales_microservice.main") -> None:
        self.module = module
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
        }
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "uvicorn", f"{self.module}:app",
            "--host", "127.0.0.1", "--port", str(self.port),
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        async with httpx.AsyncClient(base_url=self.url) as client:
            for _ in range(150):
                try:
                    if (await client.get("/ready")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"{self.module} did not become ready")

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await asyncio.wait_for(self.process.wait(), timeout=10)
