"""Structured JSON logs; every line carries the request id and the trace id of the request that
wrote it (the trace id of its span when tracing is on, else the caller's `traceparent`)."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from common.web.tracing import current_trace_id

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
# The trace id a caller's `traceparent` named, for the log lines of a service that does not
# trace itself (tracing off): the lines still join the caller's trace.
caller_trace_id_var: ContextVar[str | None] = ContextVar("caller_trace_id", default=None)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.trace_id = current_trace_id() or caller_trace_id_var.get()
        record.__dict__.pop("color_message", None)  # uvicorn's ANSI duplicate of `message`
        return True


class StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stdout` is at emit time (it may be replaced after setup)."""

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def configure_logging(*, level: str, json_lines: bool = True, service: str = "") -> None:
    """Send every logger (ours and uvicorn's) through one stdout handler."""
    handler = StdoutHandler()
    handler.addFilter(RequestIdFilter())
    if json_lines:
        handler.setFormatter(
            JsonFormatter(
                "%(levelname)s %(name)s %(message)s %(request_id)s %(trace_id)s",
                rename_fields={"levelname": "level", "name": "logger"},
                static_fields={"service": service} if service else None,
                timestamp="time",
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # The request middleware writes one access line per request, with its id and duration.
    logging.getLogger("uvicorn.access").disabled = True
