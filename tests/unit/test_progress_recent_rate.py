"""The ETA follows the rate of the run after its first quarter, not of its slow start (caches
filling, connections opening), which bench/cycle.py measured as the ETA's largest error."""

from __future__ import annotations

import io

from connector.progress import Progress, estimate


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_eta_leaves_the_first_quarter_out() -> None:
    clock = Clock()
    progress = Progress("reviews", "jobs", total=100, stream=io.StringIO(), interactive=False,
                        clock=clock)
    for _ in range(5):  # a slow start: one job every 2 s
        clock.now += 2.0
        progress.advance()
    for _ in range(60):  # then one every 0.5 s
        clock.now += 0.5
        progress.advance()
    est = progress.estimate()  # 40 s so far; the window starts at 10 s
    assert est.rate is not None and 1.9 <= est.rate <= 2.0  # the 2 jobs/s since then
    assert est.eta_seconds is not None and 17 <= est.eta_seconds <= 19  # 35 left at 2/s
    since_start = estimate(65, 100, clock.now)
    assert since_start.eta_seconds is not None and since_start.eta_seconds > 21


def test_without_enough_history_the_rate_since_the_start() -> None:
    clock = Clock()
    progress = Progress("reviews", "jobs", total=10, stream=io.StringIO(), interactive=False,
                        clock=clock)
    clock.now = 4.0
    progress.advance(2)
    est = progress.estimate()
    assert est.rate == 0.5 and est.eta_seconds == 16.0
