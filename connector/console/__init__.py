"""The operator console: server-rendered pages where HR and L&D staff see the loop and make
its decisions, on a listener of its own (never the webhook receiver's).

`create_app(store, settings)` builds it; `connector console` serves it alone,
`connector serve --console-port PORT` beside the receiver, and `connector.console.wsgi:app`
under gunicorn. Every action calls the same `connector.operations` function as the CLI.
"""

from connector.console.app import create_app

__all__ = ["create_app"]
