"""Path types and documented bodies of the payment callbacks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from sales_microservice.payments.providers import GatewayEvent

# The path parameter of `/payments/callbacks/{provider}`.
ProviderName = Annotated[
    str, Path(pattern="^[a-z][a-z0-9_]{0,31}$", description="The provider's name: `gateway`")
]


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """The model's JSON schema with its `$defs` written in place: inside an operation, a
    `#/$defs/...` reference would point at the root of the OpenAPI document."""
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref", "")
            if reference.startswith("#/$defs/"):
                return resolve(definitions[reference.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


# The body is read raw (the signature covers its exact bytes), so the spec is told its shape.
CALLBACK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": _inlined(GatewayEvent.model_json_schema()),
                "example": {
                    "type": "top_up.succeeded",
                    "timestamp": "2026-12-03T09:00:00Z",
                    "data": {"top_up_id": 42, "amount": "25.00"},
                },
            }
        },
    },
    "parameters": [
        {
            "name": header,
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": description,
        }
        for header, description in (
            ("webhook-id", "The provider's unique id of this message"),
            ("webhook-timestamp", "Seconds since 1970; more than five minutes off is refused"),
            ("webhook-signature", "`v1,<base64 HMAC-SHA256>` (Standard Webhooks)"),
        )
    ],
}
