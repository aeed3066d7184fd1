"""Bulk catalog import from CSV or XLSX files: reading, validating, writing, reporting."""
