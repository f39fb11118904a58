"""`connector notify`: check the notification channels and send what waits, by hand.

`serve` and `worker` send notifications on their own (connector/chores.py); these commands
are for setting them up: `notify test` proves each channel reaches someone, `notify send
--dry-run` shows what the next round would say.
"""

from __future__ import annotations

import argparse
from typing import Any

from connector.commands import _emit, _opened_store
from connector.errors import ConfigError
from connector.notifications import Message, Notifier, channels_from
from connector.notifications.channels import ChannelError
from connector.notifications.occurrences import KINDS

OFF = ("notifications are off: set CONNECTOR_NOTIFY_WEBHOOK_URL and/or "
       "CONNECTOR_NOTIFY_SMTP_HOST (docs/notifications.md)")


def register(sub: Any) -> None:
    notify = sub.add_parser("notify", help="notifications: test the channels, send what waits")
    actions = notify.add_subparsers(dest="notify_command", metavar="ACTION", required=True)
    actions.add_parser("test", help="send a test message through every configured channel")
    send = actions.add_parser("send", help="send what waits now (once per occurrence)")
    send.add_argument("--dry-run", action="store_true", help="show it; send nothing")
    send.add_argument("--json", action="store_true", help="machine-readable output")
    notify.set_defaults(func=cmd_notify)


def cmd_notify(args: argparse.Namespace) -> int:
    with _opened_store() as (settings, store):
        channels = channels_from(settings)
        if not channels:
            raise ConfigError(OFF)
        notifier = Notifier(store, channels, console_url=settings.console_url,
                            poller_grace_seconds=settings.notify_poller_grace_seconds)
        if args.notify_command == "test":
            return _test(channels, settings.console_url)
        if args.dry_run:
            plan = notifier.unsent()
            pages = {k.name: k for k in KINDS}
            text = "\n".join(
                f"{channel}: " + notifier.message(pages[kind], found).text()
                for channel, kinds in plan.items() for kind, found in kinds.items()
            ) or "nothing new to send"
            _emit(args, {ch: {k: [o.label for o in v] for k, v in kinds.items()}
                         for ch, kinds in plan.items()}, text)
            return 0
        result = notifier.run_once()
        text = "\n".join([*(f"sent {n} {what}" for what, n in result.sent.items()),
                          *(f"not sent: {line}" for line in result.failed)]) or \
            "nothing new to send"
        _emit(args, {"sent": result.sent, "failed": result.failed}, text)
        return 1 if result.failed else 0


def _test(channels: list[Any], console_url: str) -> int:
    failed = 0
    for channel in channels:
        try:
            channel.send(Message("test message", ("Notifications reach you from here.",),
                                 console_url.rstrip("/") + "/console"))
            print(f"✔ {channel.name}: sent")
        except ChannelError as exc:
            failed += 1
            print(f"✘ {channel.name}: {exc}")
    return 1 if failed else 0
