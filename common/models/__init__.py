"""Every model module is imported here, so `Base.metadata` knows the whole schema."""

from common.models.catalog import Category, Product, ProductStatus
from common.models.identity import (
    IdempotencyRecord,
    LoginThrottle,
    RefreshToken,
    Role,
    UserAccount,
    WalletEntry,
    WalletEntryKind,
)
from common.models.inventory import InventoryMovement, MovementKind
from common.models.review import Review, ReviewStatus
from common.models.sales import Sale, SaleKind, SalesDaily, SalesDailyCategory

__all__ = [
    "Category",
    "IdempotencyRecord",
    "InventoryMovement",
    "LoginThrottle",
    "MovementKind",
    "Product",
    "ProductStatus",
    "RefreshToken",
    "Review",
    "ReviewStatus",
    "Role",
    "Sale",
    "SaleKind",
    "SalesDaily",
    "SalesDailyCategory",
    "UserAccount",
    "WalletEntry",
    "WalletEntryKind",
]
