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
    "UserAccount",
    "WalletEntry",
    "WalletEntryKind",
]
