"""Vendor adapters: one module per vendor, each implementing the ports in connector.ports."""
