"""Publishing events to NATS JetStream (`EVENT_BROKER_URL`), deduplicated by event id.

Subjects are `shop.events.<type>` (`shop.events.stock.low`), in the stream `SHOP_EVENTS`,
created when missing. Each message carries the event id as `Nats-Msg-Id`, so JetStream drops
a republished event (a dispatcher that died between the publish and marking it published)
within the stream's duplicate window.
"""

from __future__ import annotations

import contextlib

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import BadRequestError

STREAM = "SHOP_EVENTS"
SUBJECT_PREFIX = "shop.events."
PUBLISH_TIMEOUT_SECONDS = 5.0


def subject_of(event_type: str) -> str:
    return SUBJECT_PREFIX + event_type


class Broker:
    """One connection to the NATS server, with its JetStream context."""

    def __init__(self, client: Client, jetstream: JetStreamContext) -> None:
        self._client = client
        self._jetstream = jetstream

    @classmethod
    async def connect(cls, url: str) -> Broker:
        client = await nats.connect(
            url, connect_timeout=2, max_reconnect_attempts=2, allow_reconnect=True
        )
        jetstream = client.jetstream()
        config = StreamConfig(name=STREAM, subjects=[SUBJECT_PREFIX + ">"])
        # A stream an operator changed exists already with other settings: keep theirs.
        with contextlib.suppress(BadRequestError):
            await jetstream.add_stream(config)
        return cls(client, jetstream)

    async def publish(self, *, event_id: str, event_type: str, body: bytes) -> None:
        await self._jetstream.publish(
            subject_of(event_type),
            body,
            timeout=PUBLISH_TIMEOUT_SECONDS,
            headers={"Nats-Msg-Id": event_id},
        )

    async def close(self) -> None:
        await self._client.close()
