"""Observability every process owns: metrics (`metrics`) and log set-up (`logging`).

The receiver, `connector worker`, `connector serve` and `sync` all record into the same
series and log the same way; nothing here depends on the webhook receiver.
"""
