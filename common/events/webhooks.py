"""Webhook subscriptions' rules: secrets, which types a subscription takes, signing, backoff.

Deliveries follow the Standard Webhooks specification: the body is the event's envelope
(`common.events.outbox.envelope`), and the headers `webhook-id` (the event's id, the same on
every retry), `webhook-timestamp` and `webhook-signature` (`v1,<base64 HMAC-SHA256>` made by
the `standardwebhooks` library with the subscription's `whsec_` secret).
"""

from __future__ import annotations

import base64
import json
import random
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from standardwebhooks import Webhook

from common.events.types import SUBSCRIBABLE

ALL_TYPES = "*"
# However many attempts a delivery has had, the next one is at most this far off.
MAX_RETRY_DELAY = timedelta(hours=1)


def new_secret() -> str:
    """`whsec_` and the base64 of 32 random bytes, the form providers hand out."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def encode_types(event_types: Iterable[str]) -> str:
    return json.dumps(sorted(set(event_types)))


def decode_types(stored: str) -> list[str]:
    types: list[str] = json.loads(stored)
    return types


def wants(stored_types: str, event_type: str) -> bool:
    """Whether a subscription (its stored types) takes events of `event_type`."""
    types = decode_types(stored_types)
    if event_type not in SUBSCRIBABLE:
        return False
    return ALL_TYPES in types or event_type in types


def signed_headers(secret: str, *, message_id: str, body: str, at: datetime) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
    }


def retry_delay(attempts: int, *, base_seconds: float) -> timedelta:
    """After the `attempts`-th failure: `base * 2^(attempts-1)`, capped, with +-20% jitter
    so a receiver that comes back is not hit by every delivery in the same second."""
    seconds = min(base_seconds * 2 ** min(attempts - 1, 30), MAX_RETRY_DELAY.total_seconds())
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))  # noqa: S311
