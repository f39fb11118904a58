"""Progress of long work: the ETA arithmetic (the run's own rate, or the vendor rate budget
when that is slower), the plain line format off a terminal, lines every N seconds, and
`quiet` printing nothing."""

from __future__ import annotations

import io

from connector.progress import Budget, Estimate, Progress, estimate, format_duration, format_line


def test_the_eta_is_the_remaining_work_at_the_rate_so_far() -> None:
    est = estimate(30, 120, 60.0)
    assert est.rate == 0.5
    assert est.eta_seconds == 180.0 and est.limited_by is None


def test_the_eta_waits_for_the_rate_budget_when_that_is_slower() -> None:
    # 40 jobs made 400 calls: 10 per job, so the 80 left need 800 more. The budget has 50
    # now and allows 600 an hour: (800 - 50) / 600 h = 1.25 h, far longer than 40 s at 2/s.
    est = estimate(40, 120, 20.0, calls={"talentlms": 400.0},
                   budgets={"talentlms": Budget(per_hour=600.0, available=50.0)})
    assert est.eta_seconds == 4500.0 and est.limited_by == "talentlms"


def test_a_budget_with_room_for_every_call_left_does_not_slow_the_eta() -> None:
    est = estimate(40, 120, 20.0, calls={"talentlms": 40.0},
                   budgets={"talentlms": Budget(per_hour=600.0, available=500.0)})
    assert est.eta_seconds == 40.0 and est.limited_by is None


def test_unknown_until_something_is_done_and_zero_when_all_is() -> None:
    assert estimate(0, 10, 5.0).eta_seconds is None
    assert estimate(10, 10, 5.0).eta_seconds == 0.0
    assert estimate(0, 0, 0.0).eta_seconds == 0.0
    # A vendor without a budget (no per-hour limit) never sets the pace.
    assert estimate(5, 10, 5.0, calls={"bamboohr": 50.0}).limited_by is None


def test_the_plain_line() -> None:
    line = format_line("sync", "jobs", 40, 120, Estimate(rate=2.0, eta_seconds=4500.0,
                                                           limited_by="talentlms"))
    assert line == ("sync: 40/120 jobs (33 %), 2.0 jobs/s, ETA 1 h 15 min "
                    "(paced by the TalentLMS rate budget)")
    assert format_line("import", "reviews", 0, 0, Estimate(None, None)) == \
        "import: 0/0 reviews, - reviews/s, ETA unknown"
    assert [format_duration(s) for s in (4.4, 65, 3725)] == ["4 s", "1 min 5 s", "1 h 2 min"]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_off_a_terminal_a_line_every_n_seconds_and_one_at_the_end() -> None:
    out, clock = io.StringIO(), Clock()
    with Progress("worker", "jobs", total=6, stream=out, interactive=False, every=10.0,
                  clock=clock) as progress:
        for _ in range(6):
            clock.now += 4.0
            progress.advance()
    lines = out.getvalue().splitlines()
    # At 12 s (3 done) and 24 s (6 done): one line per 10 s, then the last word at the end.
    assert lines == ["worker: 3/6 jobs (50 %), 0.2 jobs/s, ETA 12 s",
                     "worker: 6/6 jobs (100 %), 0.2 jobs/s, ETA 0 s",
                     "worker: 6/6 jobs (100 %), 0.2 jobs/s, ETA 0 s"]


def test_the_total_grows_with_work_queued_while_it_runs() -> None:
    out, clock = io.StringIO(), Clock()
    queued = [4]
    with Progress("sync", "jobs", stream=out, interactive=False, clock=clock,
                  total_of=lambda: queued[0]) as progress:
        clock.now += 2.0
        progress.advance()
        queued[0] = 9
        clock.now += 2.0
        progress.advance()
    assert out.getvalue().splitlines()[-1].startswith("sync: 2/9 jobs")


def test_quiet_prints_nothing_anywhere() -> None:
    for interactive in (True, False):
        out, clock = io.StringIO(), Clock()
        with Progress("sync", "jobs", total=3, quiet=True, stream=out,
                      interactive=interactive, every=0.0, clock=clock) as progress:
            for _ in range(3):
                clock.now += 30.0
                progress.advance()
        assert out.getvalue() == ""


def test_on_a_terminal_the_bar_shows_done_total_and_eta() -> None:
    out, clock = io.StringIO(), Clock()
    with Progress("sync", "jobs", total=4, stream=out, interactive=True, clock=clock) as bar:
        for _ in range(4):
            clock.now += 1.0
            bar.advance()
    text = out.getvalue()
    assert "4/4" in text and "ETA 0 s" in text and "1.0 jobs/s" in text
