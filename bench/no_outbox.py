"""The sales service with the outbox switched off: the baseline of `python -m bench outbox`.

`emit` is replaced by a no-op before any domain module imports it (they import it by name),
so every request runs exactly as deployed except for writing its events. Only the bench
serves this app (`uvicorn bench.no_outbox:app`)."""

from __future__ import annotations

from typing import Any

import common.events.outbox as outbox


def _no_event(*args: Any, **kwargs: Any) -> None:
    return None


outbox.emit = _no_event  # type: ignore[assignment]

from sales_microservice.main import build_app  # noqa: E402

app = build_app()
