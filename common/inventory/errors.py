"""The inventory's refusals: what the ledger, the level reads and reservations raise."""

from __future__ import annotations

from common.errors import Conflict, InvalidInput, NotFound


class ProductNotFound(NotFound):
    code = "product_not_found"
    title = "Product not found"


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    title = "Not enough stock"


class StaleStock(Conflict):
    code = "stale_stock"
    title = "Stock changed since it was read"


class StockLimitExceeded(Conflict):
    code = "stock_limit_exceeded"
    title = "Stock level too high"


class NoStockChange(InvalidInput):
    code = "no_stock_change"
    title = "The change moves no stock"


class BackdatedMovement(InvalidInput):
    code = "backdated_movement"
    title = "Movement predates the product's ledger"
