"""Business events: the transactional outbox, stock alerts, webhooks and the NATS broker.

An event exists if and only if its change committed: `emit` adds the `outbox_event` row to the
session of the change itself, and the dispatcher (`common.events.dispatcher`) sends only what
is committed."""
