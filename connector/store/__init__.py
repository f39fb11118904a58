"""The durable store: one schema over SQLite (default) or PostgreSQL (scale-out)."""

from connector.store.store import Store

__all__ = ["Store"]
