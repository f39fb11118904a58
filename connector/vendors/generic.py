"""`GoalTracker` as a signed outbound webhook, for HR systems we have no adapter for.

Each goal change is one JSON POST signed with Standard Webhooks. The `webhook-id` is derived
from the goal key, the event type and what the event is about, so a retry (by the HTTP client,
or by the executor after a crash) carries the same id and the receiver can drop the duplicate:
that is what makes the POST safe to retry. The tracker keeps no state of its own — the
executor's ledger is the record — so `find_goal` answers None and `evidence_exists` False; the
receiver's dedupe on `webhook-id` absorbs the resulting re-sends.

Events (`type`): `goal.opened`, `goal.evidence`, `goal.note`, `goal.progress` (one course done,
with the new percentage) and `goal.completed` (closed). Body:
`{"type", "timestamp" (ISO 8601 UTC), "data": {"goal_id", ...}}`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from connector.errors import ConfigError
from connector.http import VendorHttp
from connector.models import Employee, Evidence, GoalKey, GoalRef
from connector.settings import Settings, VendorSettings, vendor_config
from connector.vendors.registry import Role, VendorEnv, VendorPlugin
from webhooks.signatures import decode_standard_secret, sign_standard_webhook

VENDOR = "webhook"


class OutboundWebhookSettings(VendorSettings):
    """CONNECTOR_OUTBOUND_WEBHOOK_…: where goal events go, and the `whsec_` secret."""

    model_config = vendor_config("OUTBOUND_WEBHOOK")

    url: str | None = None
    secret: SecretStr | None = None


def delivery_id(event_type: str, goal_id: str, subject: str = "") -> str:
    """The stable `webhook-id` of one event: same goal, event and subject → same id."""
    digest = hashlib.sha256(f"{event_type}\n{goal_id}\n{subject}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


class WebhookGoals:
    """Posts goal events to one URL, signed with the outbound `whsec_` secret."""

    name = "webhook"
    closes_goals = True

    def __init__(
        self,
        http: VendorHttp,
        secret: str,
        *,
        path: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        decode_standard_secret(secret)  # fail at start-up, not on the first goal
        self.http = http
        self._secret = secret
        self._path = path
        self._clock = clock

    def __repr__(self) -> str:  # never the secret
        return f"WebhookGoals(base_url={self.http.base_url!r})"

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Callable[[], float] = time.time, **http_kw: Any
    ) -> WebhookGoals:
        """From CONNECTOR_OUTBOUND_WEBHOOK_URL / _SECRET; `http_kw` goes to VendorHttp
        (sleep, jitter, session, budget…)."""
        own = settings.vendor(OutboundWebhookSettings)
        url_var, secret_var = own.variable("url"), own.variable("secret")
        if not own.url:
            raise ConfigError(f"{url_var} is not set")
        if own.secret is None:
            raise ConfigError(f"{secret_var} is not set")
        parts = urlsplit(own.url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ConfigError(f"{url_var} must be an http(s) URL")
        http = VendorHttp(VENDOR, f"{parts.scheme}://{parts.netloc}", base_url_variable=url_var,
                          **{**settings.http_options(), **http_kw})
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            return cls(http, own.secret.get_secret_value(), path=path, clock=clock)
        except ValueError as exc:
            raise ConfigError(f"{secret_var}: {exc}") from None

    # -- delivery --

    def _deliver(self, event_type: str, goal_id: str, subject: str, data: dict[str, Any]) -> None:
        now = self._clock()
        body = {
            "type": event_type,
            "timestamp": datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z"),
            "data": {"goal_id": goal_id, **data},
        }
        raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        msg_id = delivery_id(event_type, goal_id, subject)
        headers = sign_standard_webhook(raw, msg_id, int(now), self._secret)
        headers["Content-Type"] = "application/json"
        self.http.request(
            "POST", self._path, operation=event_type, idempotent=True, data=raw, headers=headers
        )

    # -- GoalTracker --

    def find_goal(self, employee: Employee, key: GoalKey, title: str) -> GoalRef | None:
        """Always None: the receiver owns its goals; a re-sent `goal.opened` has the same id."""
        return None

    def open_goal(
        self,
        employee: Employee,
        key: GoalKey,
        title: str,
        due_date: date,
        courses: Sequence[tuple[str, str]],
    ) -> GoalRef:
        goal_id = str(key)
        self._deliver(
            "goal.opened",
            goal_id,
            "",
            {
                "employee": {
                    "employee_id": employee.employee_id,
                    "email": employee.email,
                    "first_name": employee.first_name,
                    "last_name": employee.last_name,
                },
                "skill_id": key.skill_id,
                "cycle": key.cycle,
                "title": title,
                "due_date": due_date.isoformat(),
                "courses": [{"course_id": c, "title": t} for c, t in courses],
            },
        )
        return GoalRef(tracker=self.name, goal_id=goal_id, milestone_ids={c: c for c, _ in courses})

    def evidence_exists(self, goal: GoalRef, evidence: Evidence) -> bool:
        """Always False: re-sending is harmless, the delivery id dedupes it downstream."""
        return False

    def add_evidence(self, goal: GoalRef, evidence: Evidence) -> None:
        subject = f"{evidence.course_id}@{evidence.completed_at.isoformat()}"
        self._deliver(
            "goal.evidence",
            goal.goal_id,
            subject,
            {
                "employee_id": evidence.goal.employee_id,
                "course_id": evidence.course_id,
                "course_name": evidence.course_name,
                "lms": evidence.lms_name,
                "completed_at": evidence.completed_at.isoformat().replace("+00:00", "Z"),
                "outcome": evidence.outcome.value,
                "score": evidence.score,
                "certificate_url": evidence.certificate_url,
                "text": evidence.text(),
            },
        )

    def add_note(self, goal: GoalRef, text: str) -> None:
        subject = hashlib.sha256(text.encode()).hexdigest()
        self._deliver("goal.note", goal.goal_id, subject, {"text": text})

    def complete_course(self, goal: GoalRef, course_id: str, percent: float) -> None:
        self._deliver(
            "goal.progress",
            goal.goal_id,
            f"{course_id}:{percent:g}",
            {"course_id": course_id, "percent": percent},
        )

    def close_goal(self, goal: GoalRef) -> None:
        self._deliver("goal.completed", goal.goal_id, "", {"percent": 100})


class OutboundWebhook:
    """The outbound webhook as connected for one running product."""

    def __init__(self, env: VendorEnv) -> None:
        self.env = env

    def adapter(self, role: Role) -> object | None:
        if role is Role.GOALS:
            return WebhookGoals.from_settings(self.env.settings, **self.env.http)
        return None


PLUGIN = VendorPlugin(
    name=VENDOR, title="the HR system (webhook)", settings=OutboundWebhookSettings,
    connect=OutboundWebhook, adapters={Role.GOALS: WebhookGoals},
)
