"""Catalog, inventory ledger, reservations, reviews and bulk import (port 8000)."""
