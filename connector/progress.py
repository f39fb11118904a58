"""Progress of long work (`sync --once`, `worker --drain`, `import`, `backfill`, the demo).

A first cycle for a thousand people can run for an hour, mostly waiting on a vendor's rate
limit; silence for that long looks like a hang. So each long run reports done / total, the
rate, and an ETA that knows about the vendor rate budget: the calls still needed (from the
calls per item so far) against what the shared budget (`Store.configure_budget`) allows per
hour, so a run that will be paced says so instead of promising the rate of its first minute.

On a terminal the display is `rich`'s live progress bar (one line, redrawn); otherwise plain
lines every `every` seconds and one at the end, for logs and schedulers; `quiet` prints
nothing. One implementation, used by all five; `estimate` and `format_line` are pure.
"""

from __future__ import annotations

import bisect
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any

from connector.vendors.registry import title

EVERY_SECONDS = 10.0  # plain lines: how often, when the output is not a terminal


@dataclass(frozen=True, slots=True)
class Budget:
    """One vendor's shared rate budget: calls allowed per hour, and available right now."""

    per_hour: float
    available: float


@dataclass(frozen=True, slots=True)
class Estimate:
    """Items per second so far, seconds left (None: not known yet), and the vendor whose
    rate budget sets the pace (None: the work's own rate does)."""

    rate: float | None
    eta_seconds: float | None
    limited_by: str | None = None


def estimate(done: int, total: int, elapsed: float, *,
             calls: Mapping[str, float] | None = None,
             budgets: Mapping[str, Budget] | None = None,
             recent: tuple[int, float] | None = None) -> Estimate:
    """The ETA: the remaining items at the rate so far, or, when longer, the time a vendor's
    budget needs to allow the calls still needed (calls per item so far times items left, less
    what is available now, at `per_hour`). `recent` (items, seconds): the rate over the later
    part of the run, used instead of the rate since the start when given (a run's first
    moments — caches filling, connections opening — are slower than the rest; measured
    by bench/cycle.py)."""
    remaining = max(0, total - done)
    rate = done / elapsed if done > 0 and elapsed > 0 else None
    if recent is not None and recent[0] > 0 and recent[1] > 0:
        rate = recent[0] / recent[1]
    if remaining == 0:
        return Estimate(rate, 0.0)
    eta = remaining / rate if rate else None
    limited_by: str | None = None
    if done > 0:
        for vendor, made in sorted((calls or {}).items()):
            budget = (budgets or {}).get(vendor)
            if budget is None or budget.per_hour <= 0 or made <= 0:
                continue
            needed = made / done * remaining
            wait = max(0.0, needed - max(0.0, budget.available)) * 3600.0 / budget.per_hour
            if eta is None or wait > eta:
                eta, limited_by = wait, vendor
    return Estimate(rate, eta, limited_by)


def format_duration(seconds: float) -> str:
    """`45 s`, `3 min 5 s`, `1 h 20 min`: as a person reads a wait."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def format_eta(est: Estimate) -> str:
    if est.eta_seconds is None:
        return "ETA unknown"
    text = f"ETA {format_duration(est.eta_seconds)}"
    if est.limited_by:
        text += f" (paced by the {title(est.limited_by)} rate budget)"
    return text


def format_line(what: str, unit: str, done: int, total: int, est: Estimate) -> str:
    """One plain progress line: `sync: 40/120 jobs (33 %), 2.1 jobs/s, ETA 38 s`."""
    share = f" ({100 * done // total} %)" if total else ""
    rate = f"{est.rate:.1f} {unit}/s" if est.rate is not None else f"- {unit}/s"
    return f"{what}: {done}/{total} {unit}{share}, {rate}, {format_eta(est)}"


class Progress:
    """Counts done and total for one long run and shows it (see the module docstring).

    `total` may grow while the work runs (`total_of`: asked at most once a second, e.g. the
    jobs finished plus the jobs still queued); `calls` and `budgets` feed the budget-aware
    ETA. Safe to advance from several threads."""

    def __init__(self, what: str, unit: str = "items", *, total: int = 0, quiet: bool = False,
                 stream: IO[str] | None = None, interactive: bool | None = None,
                 every: float = EVERY_SECONDS, total_of: Callable[[], int] | None = None,
                 calls: Callable[[], Mapping[str, float]] | None = None,
                 budgets: Callable[[], Mapping[str, Budget]] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.what, self.unit, self.total, self.done = what, unit, total, 0
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = (self.stream.isatty() if interactive is None else interactive)
        self.every = every
        self.total_of, self.calls, self.budgets = total_of, calls, budgets
        self.clock = clock
        self.started = clock()
        self._calls_at_start = dict(calls()) if calls else {}
        self._marks: list[tuple[float, int]] = []  # (time, done), for the recent rate
        self._last_line = self.started
        self._last_total = -1.0
        self._lock = threading.Lock()
        self._bar: Any = None
        self._task: Any = None

    # -- counting --
    def set_total(self, total: int) -> None:
        with self._lock:
            self.total = total
        self._show()

    def advance(self, n: int = 1) -> None:
        now = self.clock()
        with self._lock:
            self.done += n
            if not self._marks or now - self._marks[-1][0] >= 0.2:
                self._marks.append((now, self.done))
        self._show()

    def _recent(self, now: float) -> tuple[int, float] | None:
        """Items done and seconds taken since the first quarter of the run so far (its
        warm-up left out; a shorter window follows every passing stall)."""
        half = self.started + (now - self.started) / 4
        with self._lock:
            at = bisect.bisect_left(self._marks, (half, -1))
            if at >= len(self._marks) or at == 0:
                return None
            then, done_then = self._marks[at - 1]
            return self.done - done_then, now - then

    def estimate(self) -> Estimate:
        made: dict[str, float] = {}
        if self.calls is not None:
            made = {v: n - self._calls_at_start.get(v, 0.0) for v, n in self.calls().items()}
        now = self.clock()
        return estimate(self.done, self.total, now - self.started, calls=made,
                        budgets=self.budgets() if self.budgets else None,
                        recent=self._recent(now))

    def line(self) -> str:
        return format_line(self.what, self.unit, self.done, self.total, self.estimate())

    # -- showing --
    def __enter__(self) -> Progress:
        if not self.quiet and self.interactive:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
            from rich.progress import Progress as Bar

            self._bar = Bar(TextColumn("{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TextColumn("{task.fields[detail]}"),
                            console=Console(file=self.stream), transient=False)
            self._bar.start()
            self._task = self._bar.add_task(self.what, total=self.total or None, detail="")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """The last word: the bar's final state, or one last plain line."""
        if self.quiet:
            return
        self._refresh_total(force=True)
        if self._bar is not None:
            self._update_bar()
            self._bar.stop()
            self._bar = None
        elif not self.interactive:
            self._print(self.line())

    def _refresh_total(self, force: bool = False) -> None:
        if self.total_of is None:
            return
        now = self.clock()
        if force or now - self._last_total >= 1.0:
            self._last_total = now
            total = self.total_of()
            with self._lock:
                self.total = max(total, self.done)

    def _show(self) -> None:
        if self.quiet:
            return
        self._refresh_total()
        if self._bar is not None:
            self._update_bar()
            return
        if self.interactive:
            return
        now = self.clock()
        with self._lock:
            due = now - self._last_line >= self.every
            if due:
                self._last_line = now
        if due:
            self._print(self.line())

    def _update_bar(self) -> None:
        est = self.estimate()
        rate = f"{est.rate:.1f} {self.unit}/s" if est.rate is not None else ""
        self._bar.update(self._task, completed=self.done, total=self.total or None,
                         detail=f"{rate}  {format_eta(est)}".strip())

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def quiet() -> Progress:
    """A progress that shows nothing (library callers, tests)."""
    return Progress("", quiet=True)


def vendor_calls() -> dict[str, float]:
    """Vendor HTTP calls made by this process so far, per vendor (the metrics' counter)."""
    from connector.observability.metrics import vendor_calls as counter

    made: dict[str, float] = {}
    for metric in counter.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                vendor = sample.labels.get("vendor", "")
                made[vendor] = made.get(vendor, 0.0) + sample.value
    return made


def for_run(what: str, unit: str, store: Any, *, quiet: bool = False, total: int = 0,
            total_of: Callable[[], int] | None = None,
            stream: IO[str] | None = None) -> Progress:
    """A `Progress` for a run on `store`: the budget-aware ETA from the store's shared rate
    budgets and this process's vendor calls."""
    def budgets() -> dict[str, Budget]:
        return {b.vendor: Budget(b.per_hour, b.available) for b in store.rate_budgets()}

    return Progress(what, unit, total=total, quiet=quiet, total_of=total_of, calls=vendor_calls,
                    budgets=budgets, stream=stream)


def jobs_total(store: Any, finished: Callable[[], int]) -> Callable[[], int]:
    """A drain's total: the jobs it finished plus those still queued or running (so jobs
    queued while it runs count too)."""
    def total() -> int:
        # The finished count first: a job finishing between the two reads is then missed for
        # a moment (the store says done, the count was read before), never counted twice.
        done = finished()
        counts = store.jobs.counts()
        return done + counts.get("pending", 0) + counts.get("running", 0)
    return total
