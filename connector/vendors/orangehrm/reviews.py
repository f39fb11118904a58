"""OrangeHRM 5: finished performance reviews and their KPI ratings, as a `ReviewSource`.

Contract checked against OrangeHRM 5's source (orangehrm/orangehrm,
`src/plugins/orangehrmPerformancePlugin/Api`, the `@OA` annotations and the Model classes):

- `GET /api/v2/performance/manage/reviews` (`PerformanceReviewAPI`): `statusId` (4 completed),
  `fromDate`/`toDate` filter the review's **due date** and default to the current year when
  both are missing, `limit`/`offset`, `meta.total`. Items (`PerformanceReviewModel`): `id`,
  `jobTitle{id,name,deleted}`, `reviewPeriodStart`, `reviewPeriodEnd`, `dueDate` ("Y-m-d"),
  `overallStatus{statusId,statusName}`, `employee{empNumber,firstName,lastName,terminationId}`,
  `reviewer{id, employee{empNumber,…}}`. No `employeeId` and no e-mail in the list.
- `GET /api/v2/performance/reviews/{id}/evaluation/final` (`CompletedPerformanceReviewModel`):
  `finalRating`, `finalComment`, `completedDate` — a **date** ("Y-m-d") the reviewer types in,
  so it may be back-dated.
- `…/evaluation/supervisor` and `…/evaluation/employee`: items `{id, rating, comment, kpi{id}}`,
  `meta.kpis[] {id, title, minRating, maxRating}` (the review's own KPIs).
- `GET /api/v2/performance/kpis` (`KpiModel`): `{id, title, jobTitle{…}, minRating, maxRating}`.
Identity: `employee_id` is `str(empNumber)`, the key every OrangeHRM endpoint takes (trackers
need it). The HR-facing "Employee Id" (`employeeId`) is not in the review list; the e-mail comes
from `GET /api/v2/pim/employee/{empNumber}/contact-details` (`workEmail`) when `fetch_emails`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from connector.errors import ConfigError, ConnectorError, NotFoundError
from connector.http import VendorHttp
from connector.models import Employee, Rating, Review
from connector.settings import Settings
from connector.vendors.orangehrm.client import (
    API,
    VENDOR,
    OrangeHRMSettings,
    iter_pages,
    orangehrm_http,
)

log = logging.getLogger(__name__)

STATUS_COMPLETED = 4
CURSOR_VERSION = 1


def _parse_day(value: Any) -> date | None:
    """OrangeHRM dates are "Y-m-d" strings; tolerate a time part or a Unix timestamp."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).date()
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def review_cycle(start: date | None, end: date | None) -> str:
    """A readable cycle name: "2026", "2026-H1", "2026-Q3", else "start..end"."""
    if start is None or end is None:
        return f"{start or '?'}..{end or '?'}"
    if start.year == end.year and start.day == 1:
        nxt = date(end.year + 1, 1, 1) if end.month == 12 else date(end.year, end.month + 1, 1)
        if nxt - timedelta(days=1) == end:
            months = (end.month - start.month) + 1
            if months == 12:
                return str(start.year)
            if months == 6 and start.month in (1, 7):
                return f"{start.year}-H{1 if start.month == 1 else 2}"
            if months == 3 and start.month in (1, 4, 7, 10):
                return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.isoformat()}..{end.isoformat()}"


def _load_cursor(cursor: str | None) -> tuple[date | None, set[int]]:
    if not cursor:
        return None, set()
    try:
        raw = json.loads(cursor)
        through = _parse_day(raw.get("through"))
        return through, {int(i) for i in raw.get("seen", [])}
    except (ValueError, TypeError, AttributeError):
        raise ConfigError(f"orangehrm: unreadable review cursor {cursor[:80]!r}") from None


def _dump_cursor(through: date | None, seen: set[int]) -> str:
    return json.dumps({"v": CURSOR_VERSION, "through": through.isoformat() if through else None,
                       "seen": sorted(seen)}, separators=(",", ":"))


class OrangeHRMReviews:
    """Completed OrangeHRM reviews with their KPI ratings, polled (OrangeHRM sends no webhooks).

    The cursor is JSON `{"v":1,"through":"Y-m-d","seen":[review ids]}`: `through` is the latest
    `completedDate` read, `seen` every completed review already read whose due date is still in
    the listing window. Because `completedDate` is a day typed by the reviewer (and may be
    back-dated), "new" means "not seen", not "dated after the cursor": a review completed
    today but dated last week is still delivered, exactly once. The window lists reviews due
    from `through - due_window_days` to `today + due_window_days`; a review completed more
    than `due_window_days` after its due date falls outside it.
    """

    name = VENDOR

    def __init__(
        self,
        http: VendorHttp,
        *,
        include_self_ratings: bool = False,
        fetch_emails: bool = True,
        page_size: int = 50,
        due_window_days: int = 366,
        not_before: date | None = None,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
        known_email: Callable[[str], str | None] | None = None,
    ) -> None:
        self.http = http
        # The ledger's email for an empNumber: someone already known costs no contact read.
        self.known_email = known_email
        self.include_self_ratings = include_self_ratings
        self.fetch_emails = fetch_emails
        self.page_size = page_size
        self.due_window = timedelta(days=due_window_days)
        self.not_before = not_before  # reviews completed before this day are never delivered
        self._today = today
        self._kpis: dict[int, dict[str, Any]] | None = None
        self._emails: dict[int, str | None] = {}

    @classmethod
    def from_settings(cls, settings: Settings, *, http: VendorHttp | None = None,
                      **kw: Any) -> OrangeHRMReviews:
        kw.setdefault("include_self_ratings",
                      settings.vendor(OrangeHRMSettings).include_self_ratings)
        return cls(http or orangehrm_http(settings), **kw)

    def check_online(self, course_ids: Sequence[str] = ()) -> dict[str, Any]:
        """`connector check --online`: one call that proves the token and the right to list
        reviews (one completed review asked for), instead of reading every review since the
        cursor. The access token a process keeps is reused, so no refresh unless it ran out."""
        try:
            self.http.get_json(f"{API}/performance/manage/reviews", operation="list reviews",
                               params={"statusId": STATUS_COMPLETED, "limit": 1, "offset": 0,
                                       "includeEmployees": "currentAndPast"})
        except ConnectorError as exc:
            return {"key_ok": False, "error": str(exc)}
        return {"key_ok": True}

    def reviews_completed_since(self, cursor: str | None) -> tuple[list[Review], str | None]:
        reviews: list[Review] = []
        cursor_out = cursor
        for page, after in self.review_pages_since(cursor):
            reviews += page
            cursor_out = after
        return reviews, cursor_out

    def review_pages_since(self, cursor: str | None
                           ) -> Iterator[tuple[list[Review], str | None]]:
        """The new reviews page by page (`ReadsReviewPages`): each listing page's reviews
        with a cursor that counts every review read so far as seen, so a read resumed from it
        does not read them again; the last one also forgets ids that left the window."""
        through, seen = _load_cursor(cursor)
        self._kpis = None  # KPI titles and scales are cached for one run only
        self._emails = {}
        today = self._today()
        anchor = min(through or self.not_before or today, today)
        params = {
            "statusId": STATUS_COMPLETED,
            "fromDate": (anchor - self.due_window).isoformat(),
            "toDate": (today + self.due_window).isoformat(),
            "includeEmployees": "currentAndPast",
        }
        listed: set[int] = set()
        reviews: list[Review] = []
        newest = through
        new = 0
        for position, (item, _) in enumerate(iter_pages(
                self.http, f"{API}/performance/manage/reviews", operation="list reviews",
                params=params, page_size=self.page_size), start=1):
            if position > 1 and (position - 1) % self.page_size == 0:  # a page is done
                new += len(reviews)
                yield reviews, _dump_cursor(newest, seen)
                reviews = []
            review_id = int(item["id"])
            listed.add(review_id)
            if review_id in seen:
                continue
            try:
                review = self._review(item)
            except NotFoundError:
                log.warning("orangehrm review %s vanished while being read; skipped", review_id)
                listed.discard(review_id)
                continue
            seen.add(review_id)
            completed_day = review.completed_at.date()
            newest = max(newest, completed_day) if newest else completed_day
            if self.not_before and completed_day < self.not_before:
                continue
            reviews.append(review)
        # Ids that left the window are no longer listed, so they can be forgotten safely.
        log.info("orangehrm reviews: %d listed, %d new", len(listed), new + len(reviews))
        yield reviews, _dump_cursor(newest, seen & listed)

    def _review(self, item: dict[str, Any]) -> Review:
        review_id = int(item["id"])
        base = f"{API}/performance/reviews/{review_id}/evaluation"
        final = self.http.get_json(f"{base}/final", operation="get final evaluation")
        final_data = (final or {}).get("data") or {}
        completed = _parse_day(final_data.get("completedDate"))
        completed_at = (
            datetime(completed.year, completed.month, completed.day, tzinfo=UTC)
            if completed else datetime.now(UTC)  # *unconfirmed*: completed without a date
        )
        ratings = self._ratings(f"{base}/supervisor", "manager")
        if self.include_self_ratings:
            ratings += self._ratings(f"{base}/employee", "self")
        emp = item.get("employee") or {}
        emp_number = int(emp["empNumber"])
        reviewer = ((item.get("reviewer") or {}).get("employee") or {}).get("empNumber")
        employee = Employee(
            employee_id=str(emp_number),
            email=self._email(emp_number),
            first_name=emp.get("firstName") or None,
            last_name=emp.get("lastName") or None,
            role=(item.get("jobTitle") or {}).get("name") or None,
            manager_id=str(reviewer) if reviewer is not None else None,
            active=emp.get("terminationId") is None,
        )
        return Review(
            review_id=str(review_id),
            source=VENDOR,
            cycle=review_cycle(_parse_day(item.get("reviewPeriodStart")),
                               _parse_day(item.get("reviewPeriodEnd"))),
            employee=employee,
            completed_at=completed_at,
            ratings=tuple(ratings),
        )

    def _ratings(self, path: str, rater: str) -> list[Rating]:
        ratings: list[Rating] = []
        for item, meta in iter_pages(self.http, path, operation=f"get {rater} ratings",
                                     page_size=self.page_size):
            if item.get("rating") is None:
                continue  # an unrated KPI says nothing about a gap
            kpi_id = int((item.get("kpi") or {})["id"])
            kpi = self._kpi(kpi_id, meta.get("kpis") or [])
            title = str(kpi.get("title") or f"KPI {kpi_id}")
            ratings.append(Rating(
                skill_key=title,
                skill_label=title,
                value=float(item["rating"]),
                scale_min=_number(kpi.get("minRating")),
                scale_max=_number(kpi.get("maxRating")),
                rater=rater,
                comment=item.get("comment") or None,
            ))
        return ratings

    def _kpi(self, kpi_id: int, review_kpis: list[dict[str, Any]]) -> dict[str, Any]:
        """The KPI as the review saw it (`meta.kpis`), else from the KPI list cached per run."""
        for kpi in review_kpis:
            if int(kpi.get("id", -1)) == kpi_id:
                return kpi
        if self._kpis is None:
            self._kpis = {
                int(k["id"]): k
                for k, _ in iter_pages(self.http, f"{API}/performance/kpis",
                                       operation="list kpis", page_size=self.page_size)
            }
        return self._kpis.get(kpi_id, {})

    def _email(self, emp_number: int) -> str | None:
        """The work email: as the ledger knows it (kept current by the directory read),
        else one contact-details read (once per person per round), unless switched off."""
        known = self.known_email(str(emp_number)) if self.known_email is not None else None
        if known or not self.fetch_emails:
            return known or None
        if emp_number not in self._emails:
            try:
                body = self.http.get_json(f"{API}/pim/employee/{emp_number}/contact-details",
                                          operation="get contact details")
                email = ((body or {}).get("data") or {}).get("workEmail") or None
            except NotFoundError:
                email = None
            self._emails[emp_number] = email
        return self._emails[emp_number]


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


# --- trackers ----------------------------------------------------------------------------------
