"""A TCP proxy in front of the shared MySQL server, to take "the database" away from a service
without touching the server other tests are using.

- `cut()`: every open connection is reset and new ones are refused (the server went down).
- `stall()`: open connections are reset; new ones are accepted and never answered (a hung
  server, or a network path that swallows packets).
- `freeze()`: nothing is reset; open connections simply stop carrying bytes either way, and
  new ones are accepted and never answered (a path that goes silent mid-query).
- `restore()`: connections are forwarded again (the database came back).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import URL, make_url

_CHUNK = 64 * 1024


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._stalled = False
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    def url_for(self, database_url: str) -> str:
        """`database_url` with its host and port replaced by the proxy's."""
        url: URL = make_url(database_url).set(host="127.0.0.1", port=self.port)
        return url.render_as_string(hide_password=False)

    async def start(self) -> None:
        self._stalled = False
        # The same port every time, so a restored proxy is where the services left it.
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        await self._drop_connections()

    async def stall(self) -> None:
        self._stalled = True
        await self._drop_connections()

    async def freeze(self) -> None:
        self._stalled = True
        self._flowing.clear()

    async def restore(self) -> None:
        if not self._flowing.is_set():
            # Links frozen mid-query are reset once the path returns, as TCP would.
            await self._drop_connections()
            self._flowing.set()
        if self._server is None:
            await self.start()
        self._stalled = False

    async def _drop_connections(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()  # RST, as a crashed server's kernel would answer
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            if self._stalled:
                await reader.read()  # until the client gives up or the proxy drops it
                return
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                return
            self._writers.add(upstream_writer)
            try:
                pipes = [
                    asyncio.create_task(_pipe(reader, upstream_writer, self._flowing)),
                    asyncio.create_task(_pipe(upstream_reader, writer, self._flowing)),
                ]
                # Either side closing ends the link, as it would for a direct connection.
                _, pending = await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
                for pipe in pending:
                    pipe.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            finally:
                self._writers.discard(upstream_writer)
                upstream_writer.transport.abort()
        finally:
            self._writers.discard(writer)
            writer.transport.abort()
            self._handlers.discard(task)


async def _pipe(
    source: asyncio.StreamReader, target: asyncio.StreamWriter, flowing: asyncio.Event
) -> None:
    with contextlib.suppress(ConnectionError):
        while chunk := await source.read(_CHUNK):
            await flowing.wait()  # frozen: the bytes go nowhere, and nothing says so
            target.write(chunk)
            await target.drain()


@asynccontextmanager
async def proxy_to(database_url: str) -> AsyncIterator[TcpProxy]:
    """A started proxy in front of `database_url`'s server; closed on the way out."""
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 3306)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.cut()
