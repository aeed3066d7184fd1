"""Every event type the system emits, with what causes it (docs/events.md lists them too)."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    ORDER_PLACED = "order.placed"
    ORDER_PAID = "order.paid"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_REFUNDED = "order.refunded"
    # Every move of an order's status after it was placed (paid, shipped, expired, ...).
    ORDER_STATUS_CHANGED = "order.status_changed"
    SALE_RECORDED = "sale.recorded"
    SALE_REFUNDED = "sale.refunded"
    # A movement made by hand or by a count (restock, adjustment, damage, correction).
    STOCK_ADJUSTED = "stock.adjusted"
    # Available stock fell to or below the product's low-stock threshold.
    STOCK_LOW = "stock.low"
    # Available stock reached 0.
    STOCK_OUT = "stock.out"
    # Available stock went from 0 to more.
    STOCK_BACK = "stock.back"
    PRODUCT_CREATED = "product.created"
    PRODUCT_UPDATED = "product.updated"
    PRODUCT_ARCHIVED = "product.archived"
    REVIEW_SUBMITTED = "review.submitted"
    REVIEW_MODERATED = "review.moderated"
    WALLET_CREDITED = "wallet.credited"
    WALLET_DEBITED = "wallet.debited"
    IMPORT_FINISHED = "import.finished"
    # A webhook subscription failed for a day and was disabled.
    WEBHOOK_DISABLED = "webhook.disabled"
    # Sent by `POST /webhooks/{id}/test` to that subscription only.
    WEBHOOK_TEST = "webhook.test"


# Types a subscription may name ("*" is every one of them but the test ping).
SUBSCRIBABLE = frozenset(EventType) - {EventType.WEBHOOK_TEST}
