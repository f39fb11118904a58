"""The `sync --once` deadline: fixed, or 1.5 x the whole run as the budget-aware ETA projects it
(from the first estimate, never below the floor). Time is a manual clock; nothing sleeps."""

from __future__ import annotations

import io

import pytest

from connector.cli import main
from connector.progress import Budget, Progress
from connector.run_deadline import RunDeadline
from tests.support.fakes import ManualClock


def test_a_given_deadline_ends_the_run_when_it_passes() -> None:
    clock = ManualClock(0.0)
    deadline = RunDeadline(30.0, clock=clock)
    clock.now = 29.9
    assert deadline.keep_going()
    clock.now = 30.0
    assert not deadline.keep_going()
    assert deadline.reached and "30 s (--deadline)" in deadline.describe()


def test_the_default_is_one_and_a_half_times_the_projected_run() -> None:
    clock = ManualClock(0.0)
    progress = Progress("sync", "jobs", total=100, quiet=True, clock=clock)
    deadline = RunDeadline(progress=progress, clock=clock, floor=0.0)
    clock.now = 5.0
    assert deadline.keep_going() and deadline.seconds is None  # nothing done: no estimate
    clock.now = 10.0
    progress.advance(10)  # 1 job/s: 90 s to go, 100 s in all
    assert deadline.keep_going()
    assert deadline.seconds == pytest.approx(150.0)
    clock.now = 149.0
    progress.advance(10)  # a slower rate later does not move the deadline out
    assert deadline.keep_going()
    clock.now = 150.0
    assert not deadline.keep_going()
    assert "1.5 x the estimated run time" in deadline.describe()


def test_the_default_counts_the_vendor_budget_and_a_floor() -> None:
    clock = ManualClock(0.0)
    calls = {"talentlms": 0.0}
    progress = Progress("sync", "jobs", total=20, quiet=True, clock=clock,
                        calls=lambda: calls,
                        budgets=lambda: {"talentlms": Budget(per_hour=360, available=0)})
    deadline = RunDeadline(progress=progress, clock=clock, floor=60.0)
    clock.now = 1.0
    calls["talentlms"] = 10.0
    progress.advance(10)  # 10 calls left at 360/h: 100 s, not the 1 s the job rate says
    assert deadline.keep_going()
    assert deadline.seconds == pytest.approx(1.5 * 101.0)
    fast = RunDeadline(progress=Progress("x", total=2, quiet=True, clock=clock),
                       clock=clock, floor=60.0)
    fast.progress.advance(1)  # type: ignore[union-attr]
    clock.now = 2.0
    assert fast.keep_going() and fast.seconds == 60.0


@pytest.mark.parametrize("value", ["0", "-3", "soon"])
def test_a_deadline_that_is_not_a_positive_number_is_refused(
        value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync", "--once", "--deadline", value]) == 2
    err = capsys.readouterr().err
    assert "--deadline" in err and "seconds above 0" in err and "Traceback" not in err


def test_progress_stream_is_untouched_by_the_deadline() -> None:
    out = io.StringIO()
    progress = Progress("sync", "jobs", total=2, stream=out, interactive=False,
                        clock=ManualClock(0.0))
    RunDeadline(progress=progress).keep_going()
    assert out.getvalue() == ""
