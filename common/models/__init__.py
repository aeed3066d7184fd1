"""Every model module is imported here, so `Base.metadata` knows the whole schema."""

from common.models.catalog import Category, Product, ProductStatus
from common.models.inventory import InventoryMovement, MovementKind

__all__ = ["Category", "InventoryMovement", "MovementKind", "Product", "ProductStatus"]
