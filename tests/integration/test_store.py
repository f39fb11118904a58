"""The store on both engines: migrations, the deduplicating inbox, cursors, the rate budget."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from connector.errors import ConfigError, RetriableStoreError, StoreError
from connector.models import Employee
from connector.store import MatchState, Store, migrations
from connector.store.engine import driver_cursor, make_engine, redact_url
from connector.store.schema import inbox, jobs
from tests.support.fakes import ManualClock

# -- migrations ---------------------------------------------------------------------------

def test_upgrade_twice_applies_nothing_the_second_time(fresh_database_url: str) -> None:
    engine = make_engine(fresh_database_url)
    try:
        assert migrations.pending(engine) == migrations.revisions()
        first = migrations.upgrade(engine)
        second = migrations.upgrade(engine)
        assert first == migrations.revisions()
        assert second == []
        assert migrations.pending(engine) == []
    finally:
        engine.dispose()


def test_ready_reports_pending_migrations_then_ok(fresh_database_url: str) -> None:
    store = Store.open(fresh_database_url, upgrade=False)
    try:
        ok, why = store.ready()
        assert not ok
        assert "0001_initial" in why
        migrations.upgrade(store.engine)
        assert store.ready() == (True, "ok")
    finally:
        store.close()


def test_concurrent_upgrades_apply_each_migration_once(fresh_database_url: str) -> None:
    """Several processes starting at once (one engine each, here threads) upgrade once."""
    n = 4
    barrier = threading.Barrier(n)
    results: list[list[str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def start() -> None:
        engine = make_engine(fresh_database_url)
        try:
            barrier.wait(timeout=10)
            applied = migrations.upgrade(engine)
            with lock:
                results.append(applied)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            with lock:
                errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    names = migrations.revisions()
    assert sorted(results, key=len) == [[]] * (n - 1) + [names]
    engine = make_engine(fresh_database_url)
    try:
        assert migrations.applied(engine) == set(names)
        assert migrations.pending(engine) == []
    finally:
        engine.dispose()


def test_unknown_database_url_is_a_config_error_without_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        make_engine("mysql://admin:hunter2@db.example/connector")
    assert "hunter2" not in str(info.value)
    assert redact_url("postgresql://u:hunter2@h/db") == "postgresql://u:***@h/db"


# -- inbox --------------------------------------------------------------------------------

def test_inbox_dedupes_on_source_and_event_id_and_queues_one_job(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        payload = {"review": {"review_id": "R1"}}
        assert store.ingest("csv", "R1", "review", payload, employee_id="E1") is True
        assert store.ingest("csv", "R1", "review", payload, employee_id="E1") is False
        # The same event id from another source is another event.
        assert store.ingest("orangehrm", "R1", "review", payload, employee_id="E1") is True
        assert store.inbox_count("csv") == 1
        assert store.inbox_count() == 2
        with store.engine.connect() as conn:
            queued = conn.execute(select(jobs.c.kind, jobs.c.employee_id, jobs.c.payload)
                                  .order_by(jobs.c.id)).all()
        assert [(k, e) for k, e, _ in queued] == [("review", "E1"), ("review", "E1")]
        assert '"event_id": "R1"' in queued[0][2]
        assert '"source": "csv"' in queued[0][2]
    finally:
        store.close()


def test_ingest_can_name_another_job_kind(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        assert store.ingest("bamboohr", "evt-1", "webhook", {"x": 1}, job_kind="employee")
        job = store.jobs.claim("w")
        assert job is not None
        assert job.kind == "employee"
        assert job.payload == {"source": "bamboohr", "event_id": "evt-1", "x": 1}
    finally:
        store.close()


def test_ingest_finds_the_employee_behind_an_lms_user(database_url: str) -> None:
    """The receiver names the employee on the job (so the queue keeps their jobs in order):
    by linked LMS user id first, then by an email only one employee has."""
    store = Store.open(database_url)
    try:
        for eid, email in [("E1", "ann@example.com"), ("E2", "bo@example.com"),
                           ("E3", "shared@example.com"), ("E4", "shared@example.com")]:
            store.upsert_employee(Employee(employee_id=eid, email=email))
        store.set_identity("E2", state=MatchState.LINKED, lms_user_id="lms-2")

        def queued_for(event_id: str, **kw: Any) -> str | None:
            assert store.ingest("lms", event_id, "completion", {"completion": {}}, **kw)
            with store.engine.connect() as conn:
                row = conn.execute(select(jobs.c.employee_id, inbox.c.employee_id)
                                   .join(inbox, inbox.c.id == jobs.c.inbox_id)
                                   .where(inbox.c.event_id == event_id)).one()
            assert row[0] == row[1]  # the inbox row and its job agree
            return row[0]  # type: ignore[no-any-return]

        assert queued_for("a", learner=("lms-2", "ann@example.com")) == "E2"  # id wins
        assert queued_for("b", learner=("lms-404", " Ann@Example.com ")) == "E1"
        assert queued_for("c", learner=(None, "shared@example.com")) is None  # ambiguous
        assert queued_for("d", learner=(None, "nobody@example.com")) is None
        assert queued_for("e", learner=("", "")) is None
        assert queued_for("f", employee_id="E9", learner=("lms-2", None)) == "E9"
        # A duplicate stores nothing, not even a second job.
        assert store.ingest("lms", "a", "completion", {"completion": {}},
                            learner=("lms-2", None)) is False
        assert store.jobs.counts() == {"pending": 6}
    finally:
        store.close()


def test_driver_cursor_commits_rolls_back_and_translates_errors(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        insert = ("INSERT INTO cursors (name, value, updated_at) VALUES ('{}', 'v', "
                  "'2026-01-01 00:00:00')")
        with driver_cursor(store.engine) as cursor:
            cursor.execute(insert.format("kept"))
        with pytest.raises(RuntimeError), driver_cursor(store.engine) as cursor:
            cursor.execute(insert.format("rolled-back"))
            raise RuntimeError("the caller failed half-way")
        with pytest.raises(StoreError, match="constraint violated"), \
                driver_cursor(store.engine) as cursor:
            cursor.execute(insert.format("kept"))  # the same primary key again
        with pytest.raises(StoreError), driver_cursor(store.engine) as cursor:
            cursor.execute("SELECT no_such_column FROM cursors")
        assert store.cursor("kept") == "v"
        assert store.cursor("rolled-back") is None
    finally:
        store.close()


@pytest.mark.postgres
def test_driver_cursor_on_a_dropped_connection_is_retriable_then_recovers(
    pg_database_url: str,
) -> None:
    store = Store.open(pg_database_url)
    try:
        # Several pooled connections, as a busy receiver process has.
        held = [store.engine.raw_connection() for _ in range(4)]
        for connection in held:
            connection.close()
        assert store.ingest("lms", "before", "completion", {"completion": {}})
        admin = create_engine(pg_database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:  # what a server restart does to idle pooled connections
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        admin.dispose()
        with pytest.raises(RetriableStoreError, match="terminating connection"):
            store.ingest("lms", "during", "completion", {"completion": {}})
        # The dead connections were dropped from the pool: the sender's retry is stored.
        assert store.ingest("lms", "during", "completion", {"completion": {}})
        assert store.inbox_count("lms") == 2
    finally:
        store.close()


# -- cursors ------------------------------------------------------------------------------

def test_cursor_round_trip_and_failure_keeps_the_value(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        assert store.cursor("talentlms.timeline") is None
        store.save_cursor("talentlms.timeline", "100")
        store.save_cursor("talentlms.timeline", "250")
        store.cursor_failed("talentlms.timeline", "HTTP 503")
        assert store.cursor("talentlms.timeline") == "250"
        (poller,) = store.pollers()
        assert poller.name == "talentlms.timeline"
        assert poller.last_error == "HTTP 503"
        store.save_cursor("talentlms.timeline", "300")
        assert store.pollers()[0].last_error is None
    finally:
        store.close()


# -- shared rate budget -------------------------------------------------------------------

def test_rate_budget_goes_while_tokens_last_then_says_how_long_to_wait(
        database_url: str) -> None:
    clock = ManualClock()
    store = Store.open(database_url, clock=clock, db_clock=clock)
    try:
        assert store.acquire("talentlms") == 0.0  # no budget configured: no limit
        store.configure_budget("talentlms", per_hour=3600, burst=2)  # 1 call/s, burst 2
        assert store.acquire("talentlms") == 0.0
        assert store.acquire("talentlms") == 0.0
        assert store.acquire("talentlms") == pytest.approx(1.0)
        assert store.acquire("talentlms") == pytest.approx(2.0)  # reserved behind the first
        clock.now += 4.0  # refills 4 tokens onto -2, capped at the burst of 2
        assert store.acquire("talentlms") == 0.0
        assert store.acquire("talentlms") == 0.0
        assert store.acquire("talentlms") == pytest.approx(1.0)
    finally:
        store.close()


def test_rate_budget_is_shared_by_every_store_on_the_database(database_url: str) -> None:
    clock = ManualClock()
    first = Store.open(database_url, clock=clock, db_clock=clock)
    second = Store.open(database_url, clock=clock, db_clock=clock)
    try:
        first.configure_budget("bamboohr", per_hour=360, burst=3)  # one call per 10 s
        waits = [first.acquire("bamboohr"), second.acquire("bamboohr"),
                 first.acquire("bamboohr"), second.acquire("bamboohr")]
        assert waits[:3] == [0.0, 0.0, 0.0]
        assert waits[3] == pytest.approx(10.0)
        # Reconfiguring keeps what has been spent.
        second.configure_budget("bamboohr", per_hour=720, burst=3)
        assert first.acquire("bamboohr") == pytest.approx(10.0)  # -2 tokens at 0.2/s
    finally:
        first.close()
        second.close()


def test_course_titles_keep_the_last_read_title_of_each_course(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        assert store.course_titles.all() == {}
        assert store.course_titles.remember({"101": "Negotiation basics", "102": " ",
                                             "103": "x" * 600}) == 2
        assert store.course_titles.remember({"101": "Negotiation basics"}) == 0  # unchanged
        # A renamed course takes its new title; one the LMS stopped listing keeps its last.
        assert store.course_titles.remember({"101": "Negotiation, the basics"}) == 1
        assert store.course_titles.all() == {"101": "Negotiation, the basics", "103": "x" * 500}
        # What PostgreSQL would refuse fails neither the read nor the rest of it.
        assert store.course_titles.remember({"104": "Safety\x00 first", "9" * 201: "Too long",
                                             "105": "Kept"}) == 2
        assert {k: v for k, v in store.course_titles.all().items() if k in ("104", "105")} == {
            "104": "Safety first", "105": "Kept"}
    finally:
        store.close()
