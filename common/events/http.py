"""The one HTTP request webhooks make: a POST that reads back only the status line.

Written on asyncio streams rather than with an HTTP client library, because the services
install none (httpx is a test dependency) and a delivery needs little: one request on a fresh
connection (`Connection: close`), the status code, nothing followed (a redirect is an answer
like any other, so a target cannot bounce a signed event elsewhere), everything within one
deadline.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from common.errors import InvalidInput

MAX_STATUS_LINE = 8192


class TargetRefused(InvalidInput):
    code = "webhook_target_refused"
    title = "Webhook target refused"


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def parse_target(url: str) -> Target:
    """An `http(s)://host[:port]/path` URL with no credentials; anything else is refused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"{url!r} is not a URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("A webhook URL must be http:// or https:// with a host.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("A webhook URL may not carry credentials.")
    if any(ord(char) < 33 or ord(char) > 126 for char in url):
        raise TargetRefused("A webhook URL must be printable ASCII without spaces.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, parts.hostname, port or default, path)


def _refuse_private(address: str, *, host: str) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if not ip.is_global or ip.is_multicast:
        raise TargetRefused(
            f"{host} is a private, loopback or link-local address ({ip}); set "
            "WEBHOOK_ALLOW_PRIVATE=true to allow it."
        )


def check_literal_target(url: str, *, allow_private: bool) -> Target:
    """Refuse, when a subscription is saved, what is private on its face (an IP literal,
    `localhost`); names are resolved and checked again at every delivery (`post`)."""
    target = parse_target(url)
    if allow_private:
        return target
    if target.host.lower() == "localhost" or target.host.lower().endswith(".localhost"):
        _refuse_private("127.0.0.1", host=target.host)
    try:
        ipaddress.ip_address(target.host)
    except ValueError:
        return target
    _refuse_private(target.host, host=target.host)
    return target


async def _connect_address(target: Target, *, allow_private: bool) -> str:
    """The address to connect to: the name resolved once, checked, and used as is (no second
    lookup that could answer differently)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    if not infos:
        raise OSError(f"{target.host} does not resolve")
    addresses = [str(info[4][0]) for info in infos]
    if not allow_private:
        for address in addresses:
            _refuse_private(address, host=target.host)
    return addresses[0]


async def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    deadline_seconds: float,
    allow_private: bool,
) -> int:
    """POST `body` and return the response's status code. Raises `TargetRefused`, `OSError`
    (unreachable, reset, bad answer) or `TimeoutError` (the exchange took too long)."""
    target = parse_target(url)
    async with asyncio.timeout(deadline_seconds):
        address = await _connect_address(target, allow_private=allow_private)
        context = ssl.create_default_context() if target.scheme == "https" else None
        reader, writer = await asyncio.open_connection(
            address,
            target.port,
            ssl=context,
            server_hostname=target.host if context is not None else None,
        )
        try:
            host = target.host if ":" not in target.host else f"[{target.host}]"
            lines = [
                f"POST {target.path} HTTP/1.1",
                f"Host: {host}:{target.port}",
                "Connection: close",
                "Content-Type: application/json",
                f"Content-Length: {len(body)}",
                "User-Agent: ecommerce-manager-webhooks",
                *(f"{name}: {value}" for name, value in headers.items()),
            ]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            await writer.drain()
            status_line = await reader.readuntil(b"\r\n")
        except asyncio.LimitOverrunError as exc:
            raise OSError("the status line is too long") from exc
        except asyncio.IncompleteReadError as exc:
            raise OSError("the connection closed before a status line") from exc
        finally:
            writer.close()
    parts = status_line.decode("latin-1").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise OSError(f"not an HTTP answer: {status_line[:80]!r}")
    return int(parts[1])
