"""Every model module is imported here, so `Base.metadata` knows the whole schema."""

from common.models.catalog import Category, Product, ProductStatus
from common.models.events import (
    DeliveryStatus,
    OutboxEvent,
    SubscriptionStatus,
    WebhookDelivery,
    WebhookSubscription,
)
from common.models.identity import (
    IdempotencyRecord,
    LoginThrottle,
    RefreshToken,
    Role,
    TopUpStatus,
    UserAccount,
    WalletEntry,
    WalletEntryKind,
    WalletTopUp,
)
from common.models.inventory import (
    InventoryMovement,
    MovementKind,
    ReservationStatus,
    StockReservation,
    StockReservationItem,
)
from common.models.orders import (
    CustomerDaily,
    CustomerOrder,
    OrderDaily,
    OrderItem,
    OrderStatus,
    OrderStatusChange,
)
from common.models.review import Review, ReviewStatus
from common.models.sales import Sale, SaleKind, SalesDaily, SalesDailyCategory

__all__ = [
    "Category",
    "CustomerDaily",
    "CustomerOrder",
    "DeliveryStatus",
    "IdempotencyRecord",
    "InventoryMovement",
    "LoginThrottle",
    "MovementKind",
    "OrderDaily",
    "OrderItem",
    "OrderStatus",
    "OrderStatusChange",
    "OutboxEvent",
    "Product",
    "ProductStatus",
    "RefreshToken",
    "ReservationStatus",
    "Review",
    "ReviewStatus",
    "Role",
    "Sale",
    "SaleKind",
    "SalesDaily",
    "SalesDailyCategory",
    "StockReservation",
    "StockReservationItem",
    "SubscriptionStatus",
    "TopUpStatus",
    "UserAccount",
    "WalletEntry",
    "WalletEntryKind",
    "WalletTopUp",
    "WebhookDelivery",
    "WebhookSubscription",
]
