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
    # How long to wait before the first run (default: run at once). A chore whose schedule
    # is kept in the store counts from its last run there, so a restart does not put it off.
    first_wait: Callable[[], float] | None = None
    retry_seconds: float | None = None  # after a failure, again this soon (default: `every`)


def chores_for(rt: Runtime, *, serve: bool = False) -> list[Chore]:
    """The chores the settings switch on. `serve` adds what one process per deployment
    runs (drift reconciliation), beside what every worker may run."""
    from connector.notifications import Notifier, channels_from

    settings, store = rt.settings, rt.store
    found: list[Chore] = []
    channels = channels_from(settings)
    if channels:
        notifier = Notifier(store, channels, console_url=settings.console_url,
                            poller_grace_seconds=settings.notify_poller_grace_seconds)
        found.append(Chore("notifications", settings.notify_every_seconds, notifier.run_once))
    if serve and settings.reconcile_seconds > 0:  # drift reconciliation, 0 = off
        found.append(_reconcile_chore(rt, float(settings.reconcile_seconds)))
    return found


def _reconcile_chore(rt: Runtime, every: float) -> Chore:
    """`connector reconcile` every CONNECTOR_RECONCILE_SECONDS, counted from the last run the
    store recorded; after a failure, again within ten minutes at most."""
    from connector.operations.reconcile import reconcile, seconds_until_due

    def run() -> None:
        report = reconcile(rt.ctx, reenroll=rt.settings.reconcile_reenroll)
        log.info("reconciled", extra={"findings": len(report.findings),
                                      "repaired": report.repaired})

    return Chore("reconcile", every, run, first_wait=lambda: seconds_until_due(rt.ctx, every),
                 retry_seconds=min(every, 600.0))


def start_chores(chores: list[Chore], stop: threading.Event) -> list[threading.Thread]:
    threads = [threading.Thread(target=_loop, args=(chore, stop), name=f"chore-{chore.name}",
                                daemon=True) for chore in chores]
    for t in threads:
        t.start()
    return threads


def _loop(chore: Chore, stop: threading.Event) -> None:
    if chore.first_wait is not None and stop.wait(chore.first_wait()):
        return
    while not stop.is_set():
        started = time.monotonic()
        every = chore.every_seconds
        try:
            chore.run()
        except (ConnectorError, OSError) as exc:  # the store or a vendor: try next turn
            log.warning("chore failed", extra={"chore": chore.name, "error": str(exc)})
            every = chore.retry_seconds or every
        stop.wait(max(0.05, started + every - time.monotonic()))
