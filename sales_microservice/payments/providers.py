"""The payment providers a customer's top-up may be paid through.

- `manual`: an admin confirms (or declines) the payment by hand, e.g. after seeing a bank
  transfer arrive: `POST /customers/{id}/wallet/top-ups/{top_up_id}/confirm`.
- `gateway`: a payment processor confirms it by calling
  `POST /api/v1/payments/callbacks/gateway`, signed with the Standard Webhooks scheme
  (`webhook-id`, `webhook-timestamp`, `webhook-signature`: HMAC-SHA256 under
  `PAYMENT_CALLBACK_SECRET`), verified by the `standardwebhooks` library.

A real card processor plugs in as one more `CallbackProvider`: a name (its callback URL is
`/api/v1/payments/callbacks/<name>`) and a `verify` that checks the processor's signature on
the raw body and turns its event into a `CallbackEvent`, raising `InvalidSignature` for
anything not provably sent by it. Add it to `callback_providers`; docs/payments.md walks
through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, Protocol

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, ValidationError
from standardwebhooks import Webhook, WebhookVerificationError

from common.config import Settings
from common.errors import AppError, NotFound
from common.schemas.fields import Id, PositiveMoneyAmount

MANUAL = "manual"
GATEWAY = "gateway"
# What a customer may choose when asking for a top-up.
PaymentProviderName = Literal["gateway", "manual"]


class InvalidSignature(AppError):
    """401 with a signature challenge (RFC 9110 wants one on every 401), not a bearer one."""

    status_code = 401
    code = "invalid_signature"
    title = "The callback's signature does not verify"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Signature realm="payments"'})


class PaymentProviderNotFound(NotFound):
    code = "payment_provider_not_found"
    title = "Unknown payment provider"


@dataclass(frozen=True)
class CallbackEvent:
    """What a provider's verified callback says about one top-up."""

    top_up_id: int
    succeeded: bool
    amount: Decimal
    event_id: str


class CallbackProvider(Protocol):
    name: str

    def verify(self, body: bytes, headers: Mapping[str, str]) -> CallbackEvent: ...


class GatewayData(BaseModel):
    model_config = ConfigDict(extra="ignore")  # providers add fields; we read ours

    top_up_id: Id
    amount: PositiveMoneyAmount


class GatewayEvent(BaseModel):
    """The Standard Webhooks payload shape: `{type, timestamp, data}`."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["top_up.succeeded", "top_up.failed"]
    data: GatewayData


class SignedCallbackProvider:
    """The `gateway` provider: Standard Webhooks signatures under one shared secret."""

    name = GATEWAY

    def __init__(self, secret: str) -> None:
        self._webhook = Webhook(secret)

    def sign(self, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        """The headers a sender attaches (for tests, the bench and a sandbox processor)."""
        moment = datetime.fromtimestamp(timestamp, UTC)
        signature = self._webhook.sign(event_id, moment, body.decode())
        return {
            "webhook-id": event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature,
        }

    def verify(self, body: bytes, headers: Mapping[str, str]) -> CallbackEvent:
        try:
            # Missing headers, a malformed or wrong signature, a timestamp more than five
            # minutes off, a body that is not UTF-8: the library raises for all of them, some
            # as ValueError (bad base64, a signature without its "v1," part).
            self._webhook.verify(body, dict(headers), json_parse=False)
        except (WebhookVerificationError, ValueError) as error:
            raise InvalidSignature(
                f"The callback is not signed by the provider: {error}."
            ) from None
        try:
            event = GatewayEvent.model_validate_json(body)
        except ValidationError as error:
            raise RequestValidationError(
                [{**problem, "loc": ("body", *problem["loc"])} for problem in error.errors()]
            ) from None
        return CallbackEvent(
            top_up_id=event.data.top_up_id,
            succeeded=event.type == "top_up.succeeded",
            amount=event.data.amount,
            event_id=headers.get("webhook-id", ""),
        )


def callback_providers(settings: Settings) -> dict[str, CallbackProvider]:
    """The providers that confirm by callback, as configured."""
    providers: dict[str, CallbackProvider] = {}
    if settings.payment_callback_secret is not None:
        providers[GATEWAY] = SignedCallbackProvider(
            settings.payment_callback_secret.get_secret_value()
        )
    return providers


def callback_provider(settings: Settings, name: str) -> CallbackProvider:
    provider = callback_providers(settings).get(name)
    if provider is None:
        raise PaymentProviderNotFound(
            f"No payment provider {name!r} takes callbacks here (is it configured?)."
        )
    return provider


def provider_available(settings: Settings, name: str) -> bool:
    return name == MANUAL or name in callback_providers(settings)
