"""The ETA follows the rate of the later half of the run, not of its slow start (caches
filling, connections opening), which bench/cycle.py measured as the ETA's largest error."""

from __future__ import annotations

import io

from connector.progress import Progress, estimate


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_eta_uses_the_rate_of_the_later_half() -> None:
    clock = Clock()
    progress = Progress("reviews", "jobs", total=100, stream=io.StringIO(), interactive=False,
                        clock=clock)
    for _ in range(10):  # a slow start: one job every 2 s
        clock.now += 2.0
        progress.advance()
    for _ in range(30):  # then one every 0.5 s
        clock.now += 0.5
        progress.advance()
    est = progress.estimate()
    assert est.rate is not None and 1.6 <= est.rate <= 2.0  # about the recent 2 jobs/s
    assert est.eta_seconds is not None and 30 <= est.eta_seconds <= 38  # 60 left at ~2/s
    since_start = estimate(40, 100, clock.now)
    assert since_start.eta_seconds is not None and since_start.eta_seconds > 50


def test_without_enough_history_the_rate_since_the_start() -> None:
    clock = Clock()
    progress = Progress("reviews", "jobs", total=10, stream=io.StringIO(), interactive=False,
                        clock=clock)
    clock.now = 4.0
    progress.advance(2)
    est = progress.estimate()
    assert est.rate == 0.5 and est.eta_seconds == 16.0
