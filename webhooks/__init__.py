"""Inbound webhooks: framework-free verification and parsing, and the Flask receiver."""
