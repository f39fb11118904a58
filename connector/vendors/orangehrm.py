"""OrangeHRM 5: finished performance reviews in (ReviewSource), trackers + logs out (GoalTracker).

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
- Trackers (`PerformanceTrackerAPI`): POST `/api/v2/performance/config/trackers`
  `{trackerName (≤200), empNumber, reviewerEmpNumbers}`; GET lists with `empNumber`; PUT only
  renames / changes reviewers; DELETE is a soft delete. There is no status, archive or close.
- Logs (`PerformanceTrackerLogAPI`): POST `/api/v2/performance/trackers/{id}/logs`
  `{log (≤150), comment (≤3000), achievement (1 positive, 2 negative)}`; GET lists them.

Identity: `employee_id` is `str(empNumber)`, the key every OrangeHRM endpoint takes (trackers
need it). The HR-facing "Employee Id" (`employeeId`) is not in the review list; the e-mail comes
from `GET /api/v2/pim/employee/{empNumber}/contact-details` (`workEmail`) when `fetch_emails`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests

from connector.errors import ConfigError, NotFoundError
from connector.http import VendorHttp, json_object
from connector.models import Employee, Evidence, GoalKey, GoalRef, Outcome, Rating, Review
from connector.settings import Settings
from connector.vendors.orangehrm_auth import TOKEN_PATH, OAuthToken, token_error_message

log = logging.getLogger(__name__)

VENDOR = "orangehrm"
API = "/web/index.php/api/v2"
STATUS_COMPLETED = 4
ACHIEVEMENT_POSITIVE = 1
ACHIEVEMENT_NEGATIVE = 2
LOG_MAX = 150
COMMENT_MAX = 3000
TRACKER_NAME_MAX = 200
CURSOR_VERSION = 1


def error_message(response: requests.Response) -> str | None:
    """OrangeHRM's `{"error": {"status", "message", "data": {"invalidParamKeys"}}}` as text."""
    body = json_object(response)
    if body is None:
        return None
    error = body.get("error")
    if not isinstance(error, dict):
        return token_error_message(response)
    message = str(error.get("message") or "")
    data = error.get("data")
    keys = data.get("invalidParamKeys") if isinstance(data, dict) else None
    if isinstance(keys, dict) and keys:
        message += " (" + ", ".join(f"{k}: {v}" for k, v in sorted(keys.items())) + ")"
    return message or None


def orangehrm_token(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.monotonic,
    on_refresh_token: Callable[[str], None] | None = None,
    **http_kw: Any,
) -> OAuthToken:
    """The OAuth token holder from settings. Share one per process between the review source
    and the tracker: refresh tokens rotate, so two holders refreshing the same one would
    revoke each other's."""
    if not settings.orangehrm_client_id:
        raise ConfigError("CONNECTOR_ORANGEHRM_CLIENT_ID is required for OrangeHRM")
    token_http = VendorHttp(VENDOR, settings.orangehrm_base_url,
                            **_http_options(settings, clock, http_kw))
    secret = settings.orangehrm_client_secret
    refresh = settings.orangehrm_refresh_token
    return OAuthToken(
        token_http,
        client_id=settings.orangehrm_client_id,
        client_secret=secret.get_secret_value() if secret else None,
        refresh_token=refresh.get_secret_value() if refresh else None,
        token_path=TOKEN_PATH,
        clock=clock,
        on_refresh_token=on_refresh_token,
    )


def orangehrm_http(
    settings: Settings,
    *,
    token: OAuthToken | None = None,
    clock: Callable[[], float] = time.monotonic,
    on_refresh_token: Callable[[str], None] | None = None,
    **http_kw: Any,
) -> VendorHttp:
    """A `VendorHttp` for the OrangeHRM API, authenticated by `token` (made from settings if
    not given). `http_kw` go to `VendorHttp` (sleep, jitter, budget, observer…)."""
    if token is None:
        token = orangehrm_token(settings, clock=clock, on_refresh_token=on_refresh_token,
                                **http_kw)
    return VendorHttp(VENDOR, settings.orangehrm_base_url, auth=token,
                      **_http_options(settings, clock, http_kw))


def _http_options(settings: Settings, clock: Callable[[], float],
                  http_kw: dict[str, Any]) -> dict[str, Any]:
    return {
        "connect_timeout": settings.http_connect_timeout,
        "read_timeout": settings.http_read_timeout,
        "burst": settings.http_burst,
        "clock": clock,
        "error_message": error_message,
        **http_kw,
    }


def iter_pages(http: VendorHttp, path: str, *, operation: str, params: dict[str, Any] | None = None,
               page_size: int = 50) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Every item of a `{data, meta.total}` list, paged with limit/offset; yields (item, meta)."""
    offset = 0
    while True:
        body = http.get_json(path, operation=operation,
                             params={**(params or {}), "limit": page_size, "offset": offset})
        if not isinstance(body, dict):
            body = {}
        items = body.get("data") or []
        meta = body.get("meta") or {}
        for item in items:
            yield item, meta
        offset += len(items)
        total = meta.get("total")
        if not items or (isinstance(total, int) and offset >= total) or (
            total is None and len(items) < page_size
        ):
            return


# --- reviews ---------------------------------------------------------------------------------


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
    ) -> None:
        self.http = http
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
        kw.setdefault("include_self_ratings", settings.orangehrm_include_self_ratings)
        return cls(http or orangehrm_http(settings), **kw)

    def reviews_completed_since(self, cursor: str | None) -> tuple[list[Review], str | None]:
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
        for item, _ in iter_pages(self.http, f"{API}/performance/manage/reviews",
                                  operation="list reviews", params=params,
                                  page_size=self.page_size):
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
        cursor_out = _dump_cursor(newest, seen & listed)
        log.info("orangehrm reviews: %d listed, %d new", len(listed), len(reviews))
        return reviews, cursor_out

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
            email=self._email(emp_number) if self.fetch_emails else None,
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


def goal_marker(key: GoalKey) -> str:
    """A short, stable tag in the tracker name so the tracker can be found after a crash."""
    return "[sg:" + hashlib.sha256(str(key).encode()).hexdigest()[:12] + "]"


def evidence_marker(evidence: Evidence) -> str:
    when = evidence.completed_at.isoformat()
    raw = f"{evidence.goal}|{evidence.course_id}|{when}|{evidence.outcome}"
    return "[sg-evidence:" + hashlib.sha256(raw.encode()).hexdigest()[:12] + "]"


CLOSED_MARKER = "[sg-closed]"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class OrangeHRMTrackers:
    """Development goals as OrangeHRM performance trackers, evidence as tracker logs.

    One tracker per goal, named "<title> [sg:<hash of the goal key>]" so `find_goal` can match
    it after a crash. OrangeHRM trackers have no milestones, progress or close: a course
    completion is a positive log (`complete_course` adds nothing more), a failed attempt or a
    note is a negative log (OrangeHRM has no neutral one), and `close_goal` posts a final
    positive "Goal complete" log (trackers cannot be archived through the API; DELETE would
    hide the history). The API user must be a reviewer on the tracker to post logs: reviewers
    are `reviewer_emp_numbers`, else the employee's manager.
    """

    name = VENDOR

    def __init__(self, http: VendorHttp, *, reviewer_emp_numbers: Sequence[int] = (),
                 page_size: int = 50) -> None:
        self.http = http
        self.reviewer_emp_numbers = [int(n) for n in reviewer_emp_numbers]
        self.page_size = page_size

    @classmethod
    def from_settings(cls, settings: Settings, *, http: VendorHttp | None = None,
                      **kw: Any) -> OrangeHRMTrackers:
        return cls(http or orangehrm_http(settings), **kw)

    def _ref(self, tracker_id: Any) -> GoalRef:
        return GoalRef(tracker=VENDOR, goal_id=str(tracker_id))

    def find_goal(self, employee: Employee, key: GoalKey, title: str) -> GoalRef | None:
        marker = goal_marker(key)
        for item, _ in iter_pages(self.http, f"{API}/performance/config/trackers",
                                  operation="list trackers",
                                  params={"empNumber": int(employee.employee_id)},
                                  page_size=self.page_size):
            if str(item.get("trackerName", "")).endswith(marker):
                return self._ref(item["id"])
        return None

    def open_goal(self, employee: Employee, key: GoalKey, title: str, due_date: date,
                  courses: Sequence[tuple[str, str]]) -> GoalRef:
        reviewers = self.reviewer_emp_numbers or (
            [int(employee.manager_id)] if employee.manager_id else []
        )
        if not reviewers:
            raise ConfigError(
                f"orangehrm: no tracker reviewer for employee {employee.employee_id}: set "
                "reviewer_emp_numbers (the API user's own empNumber) or give the manager")
        marker = goal_marker(key)
        name = _shorten(title, TRACKER_NAME_MAX - len(marker) - 1) + " " + marker
        body = self.http.post_json(
            f"{API}/performance/config/trackers", operation="create tracker",
            json={"trackerName": name, "empNumber": int(employee.employee_id),
                  "reviewerEmpNumbers": reviewers})
        return self._ref(body["data"]["id"])

    def _logs(self, goal: GoalRef) -> Iterator[dict[str, Any]]:
        for item, _ in iter_pages(self.http, f"{API}/performance/trackers/{goal.goal_id}/logs",
                                  operation="list tracker logs", page_size=self.page_size):
            yield item

    def _post_log(self, goal: GoalRef, text: str, comment: str, achievement: int) -> None:
        self.http.post_json(
            f"{API}/performance/trackers/{goal.goal_id}/logs", operation="add tracker log",
            json={"log": _shorten(text, LOG_MAX), "comment": _shorten(comment, COMMENT_MAX),
                  "achievement": achievement})

    def evidence_exists(self, goal: GoalRef, evidence: Evidence) -> bool:
        marker = evidence_marker(evidence)
        return any(marker in str(item.get("comment") or "") for item in self._logs(goal))

    def add_evidence(self, goal: GoalRef, evidence: Evidence) -> None:
        text = evidence.text()
        marker = evidence_marker(evidence)
        # The marker goes last and the details are cut first, so it survives the 3000 limit.
        comment = _shorten(text, COMMENT_MAX - len(marker) - 1) + "\n" + marker
        failed = evidence.outcome is Outcome.FAILED
        self._post_log(goal, text, comment,
                       ACHIEVEMENT_NEGATIVE if failed else ACHIEVEMENT_POSITIVE)

    def add_note(self, goal: GoalRef, text: str) -> None:
        self._post_log(goal, text, text, ACHIEVEMENT_NEGATIVE)

    def complete_course(self, goal: GoalRef, course_id: str, percent: float) -> None:
        """No milestones or percentage in OrangeHRM: the evidence log already says it."""
        log.debug("orangehrm tracker %s: course %s done (%.0f%%), nothing to set",
                  goal.goal_id, course_id, percent)

    def close_goal(self, goal: GoalRef) -> None:
        if any(CLOSED_MARKER in str(item.get("comment") or "") for item in self._logs(goal)):
            return
        self._post_log(goal, "Goal complete",
                       f"All linked courses are complete.\n{CLOSED_MARKER}", ACHIEVEMENT_POSITIVE)
