"""Shared kernel of the e-commerce manager services: configuration, database, web plumbing."""

__version__ = "0.1.0"
