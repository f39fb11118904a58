"""The durable store: one schema over SQLite or PostgreSQL."""
