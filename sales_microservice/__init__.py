"""Customers and wallets, orders and payments, sales and revenue analytics (port 8001)."""
