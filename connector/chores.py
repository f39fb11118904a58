"""Housekeeping that `serve` and `worker` run on a schedule beside their main work: each
chore on a thread of its own, so a slow one (an SMTP server that does not answer) never
delays polling, jobs or another chore. A chore that fails is logged and tried again at its
next turn; it never stops the process."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from connector.errors import ConnectorError

if TYPE_CHECKING:
    from connector.runtime import Runtime

log = logging.getLogger("connector.chores")


@dataclass(frozen=True, slots=True)
class Chore:
    name: str
    every_seconds: float
    run: Callable[[], object]


def chores_for(rt: Runtime) -> list[Chore]:
    """The chores the settings switch on."""
    from connector.notifications import Notifier, channels_from

    settings, store = rt.settings, rt.store
    found: list[Chore] = []
    channels = channels_from(settings)
    if channels:
        notifier = Notifier(store, channels, console_url=settings.console_url,
                            poller_grace_seconds=settings.notify_poller_grace_seconds)
        found.append(Chore("notifications", settings.notify_every_seconds, notifier.run_once))
    from connector.operations.retention import scheduled_prune

    found.append(Chore("retention", settings.retention_prune_hours * 3600.0,
                       lambda: scheduled_prune(store, settings)))
    return found


def start_chores(chores: list[Chore], stop: threading.Event) -> list[threading.Thread]:
    threads = [threading.Thread(target=_loop, args=(chore, stop), name=f"chore-{chore.name}",
                                daemon=True) for chore in chores]
    for t in threads:
        t.start()
    return threads


def _loop(chore: Chore, stop: threading.Event) -> None:
    while not stop.is_set():
        started = time.monotonic()
        try:
            chore.run()
        except (ConnectorError, OSError) as exc:  # the store or a channel: try next turn
            log.warning("chore failed", extra={"chore": chore.name, "error": str(exc)})
        stop.wait(max(0.05, started + chore.every_seconds - time.monotonic()))
