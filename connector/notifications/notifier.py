"""One round of notifications: read what waits, claim what was not sent yet (per channel),
send one message per kind and channel, and mark it sent, or give the claim back to retry."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from connector.notifications.channels import Channel, ChannelError, Message
from connector.notifications.occurrences import KINDS, SHOWN, Kind, Occurrence
from connector.store import Store

log = logging.getLogger("connector.notifications")


@dataclass
class NotifyRound:
    sent: dict[str, int] = field(default_factory=dict)  # "<channel>:<kind>" → occurrences
    failed: list[str] = field(default_factory=list)  # one line per failed send


class Notifier:
    def __init__(self, store: Store, channels: Sequence[Channel], *, console_url: str,
                 poller_grace_seconds: float = 900.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.channels = list(channels)
        self.console_url = console_url.rstrip("/")
        self.poller_grace = poller_grace_seconds
        self.clock = clock

    def waiting(self) -> dict[str, list[Occurrence]]:
        """Every current occurrence, by kind (sent or not)."""
        now = self.clock()
        return {kind.name: kind.read(self.store, now, self.poller_grace) for kind in KINDS}

    def unsent(self) -> dict[str, dict[str, list[Occurrence]]]:
        """What the next round would send, per channel and kind (for --dry-run)."""
        waiting = self.waiting()
        plan: dict[str, dict[str, list[Occurrence]]] = {}
        for channel in self.channels:
            for kind, found in waiting.items():
                done = self.store.notices.sent(f"{channel.name}:{kind}")
                new = [o for o in found if o.key[:200] not in done]
                if new:
                    plan.setdefault(channel.name, {})[kind] = new
        return plan

    def run_once(self) -> NotifyRound:
        result = NotifyRound()
        waiting = self.waiting()
        for kind in KINDS:
            found = waiting[kind.name]
            if not found:
                continue
            for channel in self.channels:
                claim = f"{channel.name}:{kind.name}"
                keys = set(self.store.notices.claim(claim, [o.key for o in found]))
                new = [o for o in found if o.key[:200] in keys]
                if not new:
                    continue
                try:
                    channel.send(self.message(kind, new))
                except ChannelError as exc:
                    self.store.notices.release(claim, keys)
                    log.warning("notification not sent", extra={"error": str(exc)})
                    result.failed.append(str(exc))
                    continue
                self.store.notices.mark_sent(claim, keys)
                result.sent[claim] = len(new)
        return result

    def message(self, kind: Kind, new: list[Occurrence]) -> Message:
        lines = [f"- {o.label}" for o in new[:SHOWN]]
        if len(new) > SHOWN:
            lines.append(f"- and {len(new) - SHOWN} more")
        return Message(kind.heading(len(new)), tuple(lines), self.console_url + kind.page)
