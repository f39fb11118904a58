"""When a `sync --once` run gives up: its own deadline, so a scheduler's run always ends.

Per-call deadlines (deadlines.py) bound each vendor call; a run of many slow calls can still
outlast the schedule that started it, and two runs then overlap. So the run stops taking new
work at `--deadline SECONDS`, or, by default, at 1.5 x the time the budget-aware ETA
(progress.py, the one implementation) projects for the whole run, taken from the first
estimate and never below `FLOOR_SECONDS` (the first job's rate alone says little). Work not
started stays pending for the next run; the job running at the deadline finishes (its calls
have deadlines of their own).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from connector.progress import Progress, format_duration

FACTOR = 1.5
FLOOR_SECONDS = 60.0


class RunDeadline:
    """`keep_going()` is False once the run is past its deadline (`reached` then says so)."""

    def __init__(self, seconds: float | None = None, *, progress: Progress | None = None,
                 clock: Callable[[], float] = time.monotonic, factor: float = FACTOR,
                 floor: float = FLOOR_SECONDS) -> None:
        self.clock = clock
        self.started = clock()
        self.progress = progress
        self.factor = factor
        self.floor = floor
        self.given = seconds is not None
        self.seconds: float | None = seconds  # None: not known until the first estimate
        self.reached = False

    def keep_going(self) -> bool:
        elapsed = self.clock() - self.started
        if self.seconds is None and self.progress is not None:
            eta = self.progress.estimate().eta_seconds
            if eta is not None and self.progress.done > 0:
                self.seconds = max(self.floor, self.factor * (elapsed + eta))
        if self.seconds is not None and elapsed >= self.seconds:
            self.reached = True
        return not self.reached

    def describe(self) -> str:
        """How the deadline was set, for the run's summary."""
        limit = format_duration(self.seconds or 0.0)
        how = "--deadline" if self.given else f"{self.factor:g} x the estimated run time"
        return f"{limit} ({how})"
