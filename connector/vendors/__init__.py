"""Vendors as plug-ins: `registry.py` and one package per vendor (adapters for the ports in
connector.ports, its settings, its demo sandbox). docs/architecture.md says how to add one."""
