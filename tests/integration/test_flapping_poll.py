"""A review poll under a flapping database (real PostgreSQL): the connection is cut between
pages (pg_terminate_backend, and new connections refused for a moment), yet the next poll
resumes after what was stored; only the page in hand is read again, every review is queued
once, and the safety limits still judged the whole batch."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

from connector.errors import ConnectorError, SafetyStop
from connector.pollers import poll_reviews
from connector.sandbox.common import RunningSimulator, serve
from connector.sandbox.orangehrm import create_app
from connector.settings import Settings
from connector.store import Store
from connector.vendors.orangehrm import OrangeHRMReviews, orangehrm_http
from mappings.loader import load_mapping

PAGE = 2
REVIEWS = 8  # four pages
STREAM = "orangehrm.reviews"
TODAY = datetime.now(UTC).date()
DETAIL = re.compile(r"/performance/reviews/(\d+)/evaluation/supervisor")


def post(url: str, path: str, body: Any) -> Any:
    answer = requests.post(f"{url}{path}", json=body, timeout=5)
    answer.raise_for_status()
    return answer.json()


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    running = serve(create_app(token_ttl=3600, client_credentials=True), "orangehrm")
    post(running.url, "/_sandbox/employees", [
        {"empNumber": 7, "employeeId": "0007", "firstName": "Ann", "lastName": "Lee",
         "jobTitle": "Account Executive", "email": "ann@example.com"}])
    post(running.url, "/_sandbox/kpis", [{"id": 11, "title": "Negotiation", "minRating": 1,
                                          "maxRating": 5}])
    for n in range(REVIEWS):
        post(running.url, "/_sandbox/reviews", {
            "empNumber": 7, "reviewPeriodStart": f"{TODAY.year}-01-01",
            "reviewPeriodEnd": f"{TODAY.year}-06-30", "dueDate": TODAY.isoformat(),
            "completedDate": TODAY.isoformat(), "finalRating": 50 + n,
            "ratings": [{"kpiId": 11, "rating": 2 + n % 3}]})
    yield running
    running.stop()


class Flapping:
    """A PostgreSQL database of its own whose connections an admin cuts on demand."""

    def __init__(self, pg_url: str) -> None:
        base, _ = pg_url.rsplit("/", 1)
        self.name = f"flap_{uuid.uuid4().hex[:8]}"
        self.url = f"{base}/{self.name}"
        self.admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
        self.cuts = 0
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))

    def cut(self) -> None:
        """Terminate every backend of the database and refuse new ones until `heal`."""
        with self.admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :db AND pid <> pg_backend_pid()"),
                         {"db": self.name})
        self.cuts += 1

    def heal(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true'))

    def drop(self) -> None:
        self.heal()
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture
def flapping(pg_database_url: str) -> Iterator[Flapping]:
    db = Flapping(pg_database_url)
    yield db
    db.drop()


def test_a_cut_between_pages_costs_at_most_one_page(sim: RunningSimulator,
                                                    flapping: Flapping) -> None:
    settings = Settings(_env_file=None, orangehrm_base_url=sim.url,
                        orangehrm_client_id="sandbox-client",
                        orangehrm_client_secret="sandbox-secret",
                        max_assignments_per_run=100_000, max_assignment_share=1.0)
    limits = (settings, load_mapping("mappings/example.toml"))
    detail_reads: list[str] = []

    def watch(response: requests.Response, *_: Any, **__: Any) -> None:
        url = response.request.url or ""
        if found := DETAIL.search(url):
            detail_reads.append(found.group(1))
        if "/manage/reviews" in url and f"offset={2 * PAGE}" in url and not flapping.cuts:
            flapping.cut()  # the third page's listing: pages one and two are read by now

    session = requests.Session()
    session.hooks["response"].append(watch)
    source = OrangeHRMReviews(orangehrm_http(settings, session=session, sleep=lambda _: None),
                              page_size=PAGE, fetch_emails=False)
    store = Store.open(flapping.url)
    try:
        with pytest.raises(ConnectorError):
            poll_reviews(store, source, limits=limits)
        flapping.heal()
        reading = store.reading_batch(STREAM)
        assert reading is not None and len(reading.payload["items"]) == PAGE  # page one kept
        assert store.inbox_count() == 0  # nothing queued before the whole batch was judged

        queued = poll_reviews(store, source, limits=limits)

        assert queued == REVIEWS and store.inbox_count() == REVIEWS
        assert len(detail_reads) <= REVIEWS + PAGE, detail_reads  # at most one page again
        assert len(set(detail_reads)) == REVIEWS
        assert store.reading_batch(STREAM) is None and store.cursor(STREAM) is not None
        assert poll_reviews(store, source, limits=limits) == 0  # and nothing new after
    finally:
        store.close()


def test_the_limits_judge_the_whole_batch_read_in_pages(sim: RunningSimulator,
                                                        flapping: Flapping) -> None:
    settings = Settings(_env_file=None, orangehrm_base_url=sim.url,
                        orangehrm_client_id="sandbox-client",
                        orangehrm_client_secret="sandbox-secret",
                        max_assignments_per_run=1, max_assignment_share=1.0)
    source = OrangeHRMReviews(orangehrm_http(settings, sleep=lambda _: None),
                              page_size=PAGE, fetch_emails=False)
    store = Store.open(flapping.url)
    try:
        with pytest.raises(SafetyStop):
            poll_reviews(store, source, limits=(settings, load_mapping("mappings/example.toml")))
        [stop] = store.staged_batches()
        assert len(stop.payload["reviews"]) == REVIEWS  # every page, judged as one batch
        assert store.reading_batch(STREAM) is None and store.inbox_count() == 0
    finally:
        store.close()
