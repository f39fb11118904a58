"""The receiver's core: one delivery in, one answer out; no web framework imported here.

`WebhookDispatcher.dispatch` runs the checks in a fixed order — known source (404), size (413),
media type (415), signature over the raw bytes (401), JSON (400), shape (422) — then stores each
event in the inbox (deduped on its event id) before answering 202. Any failure of the inbox is a
503 so the sender retries later; the receiver never answers 500 with a traceback. Receivers only
verify, store and acknowledge: all the work happens later in the worker.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

from connector.errors import ConfigError
from connector.observability.metrics import WebhookMetrics, webhook_metrics
from webhooks.bamboohr_body import parse_bamboohr_employees
from webhooks.decoding import MalformedJson, PayloadError, decode_json
from webhooks.lms_body import parse_lms_completion
from webhooks.review_body import ReviewFieldMap, ThinReview, parse_review
from webhooks.signatures import (
    HmacScheme,
    SignatureError,
    Verifier,
    bamboohr_verifier,
    hmac_verifier,
    standard_webhook_verifier,
)
from webhooks.xapi_body import XapiOptions, parse_move_on, parse_xapi

if TYPE_CHECKING:
    from connector.settings import Settings

log = logging.getLogger("webhooks.dispatch")

SourceKind = Literal["review", "completion", "xapi", "bamboohr_employees"]
EventKind = Literal["review", "review_hint", "completion", "employee"]
SOURCE_KINDS: tuple[str, ...] = ("review", "completion", "xapi", "bamboohr_employees")
EXTRA_SOURCES_ENV = "CONNECTOR_WEBHOOK_SOURCES"
UNKNOWN_SOURCE_LABEL = "_unknown"  # URL segments are attacker-chosen: never a metric label


class Inbox(Protocol):
    """The durable inbox port: store one event unless (source, event_id) is already there."""

    def ingest(
        self,
        source: str,
        event_id: str,
        kind: str,
        payload: dict[str, Any],
        raw: bytes,
        employee_id: str | None,
    ) -> bool:
        """True when the event is new, False when it was already stored (a redelivery)."""
        ...


InboxOrFactory = Inbox | Callable[[], Inbox]


@dataclass
class SourceConfig:
    """One webhook sender: its URL name, what it sends and how it signs. No verifier = off."""

    name: str
    kind: SourceKind
    verifier: Verifier | None
    field_map: ReviewFieldMap | None = None
    xapi: XapiOptions = field(default_factory=XapiOptions)

    @property
    def enabled(self) -> bool:
        return self.verifier is not None


@dataclass(frozen=True)
class WebhookResponse:
    """What to answer. `reason` is the metric/log label of a refusal (None when accepted)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    reason: str | None = None


@dataclass(frozen=True)
class InboundEvent:
    """One event to store; a delivery may carry several (xAPI lists, BambooHR batches)."""

    event_id: str
    kind: EventKind
    payload: dict[str, Any]
    employee_id: str | None


def _refuse(status: int, error: str, **extra: Any) -> WebhookResponse:
    headers = {"Retry-After": "30"} if status == 503 else {}
    return WebhookResponse(status, {"error": error, **extra}, headers, error)


def _json_media_type(content_type: str | None) -> bool:
    if not content_type:
        return False
    media, *params = (part.strip().lower() for part in content_type.split(";"))
    if media != "application/json":
        return False
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "charset" and value.strip().strip('"') not in ("utf-8", "utf8"):
            return False
    return True


def body_digest(raw: bytes) -> str:
    """The fallback event id: the same bytes redelivered dedupe to the same event."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def events_from_body(
    source: SourceConfig, doc: Any, raw: bytes, scheme_id: str | None
) -> list[InboundEvent]:
    """The events a verified, decoded body carries. Raises PayloadError for a 422.

    Event ids: the scheme's (webhook-id) when it has one, else one found in the payload
    (xAPI statement id; review id + ratings fingerprint), else a hash of the raw body.
    xAPI always uses statement ids and BambooHR a hash of each change, since one delivery
    may carry many events.
    """
    fallback = scheme_id or body_digest(raw)
    if source.kind == "review":
        parsed = parse_review(doc, source.field_map or ReviewFieldMap(), source=source.name)
        if isinstance(parsed, ThinReview):
            return [InboundEvent(fallback, "review_hint", parsed.to_payload(), parsed.employee_id)]
        event_id = scheme_id or f"{parsed.review_id}:{parsed.fingerprint()}"
        payload = parsed.model_dump(mode="json")
        return [InboundEvent(event_id, "review", payload, parsed.employee.employee_id)]
    if source.kind == "completion":
        event = parse_lms_completion(doc, source=source.name, event_id=fallback)
        if event is None:
            return []
        return [
            InboundEvent(fallback, "completion", event.model_dump(mode="json"), event.employee_id)
        ]
    if source.kind == "xapi":
        batch = parse_xapi(doc, source=source.name, options=source.xapi)
        return [
            InboundEvent(e.event_id, "completion", e.model_dump(mode="json"), e.employee_id)
            for e in batch.events
        ]
    changes = parse_bamboohr_employees(doc)
    return [InboundEvent(c.event_id(), "employee", c.to_payload(), c.employee_id) for c in changes]


class WebhookDispatcher:
    """Verifies, parses and stores deliveries for the configured sources."""

    def __init__(
        self,
        sources: Mapping[str, SourceConfig],
        inbox: InboxOrFactory,
        *,
        max_bytes: int = 256 * 1024,
        clock: Callable[[], float] = time.time,
        metrics: WebhookMetrics | None = None,
    ) -> None:
        self.sources = dict(sources)
        self.max_bytes = max_bytes
        self._clock = clock
        self.metrics = metrics or webhook_metrics()
        self._inbox: Inbox | None = inbox if hasattr(inbox, "ingest") else None
        self._factory = None if self._inbox is not None else cast(Callable[[], Inbox], inbox)
        self._lock = threading.Lock()

    def inbox(self) -> Inbox:
        """The inbox, built on first use from the factory (the store may start after us)."""
        if self._inbox is None:
            with self._lock:
                if self._inbox is None:
                    assert self._factory is not None  # noqa: S101 - set when no inbox given
                    self._inbox = self._factory()
        return self._inbox

    def ready(self) -> tuple[bool, str]:
        try:
            self.inbox()
        except Exception as exc:  # noqa: BLE001 - any failure to build it means "not ready"
            return False, f"inbox unavailable ({type(exc).__name__})"
        return True, "ok"

    def dispatch(
        self,
        source_name: str,
        raw: bytes,
        headers: Mapping[str, str],
        content_type: str | None,
    ) -> WebhookResponse:
        started = time.perf_counter()
        source = self.sources.get(source_name)
        label = source.name if source is not None and source.enabled else UNKNOWN_SOURCE_LABEL
        self.metrics.received.labels(label).inc()
        response = self._dispatch(source, raw, headers, content_type)
        if response.reason:
            self.metrics.rejected.labels(label, response.reason).inc()
        self.metrics.seconds.observe(time.perf_counter() - started)
        return response

    def refuse_oversize(self, source_name: str) -> WebhookResponse:
        """The answer for a body announced too large, given before any of it is read."""
        source = self.sources.get(source_name)
        if source is None or not source.enabled:
            return self.dispatch(source_name, b"", {}, None)  # 404, counted as usual
        self.metrics.received.labels(source.name).inc()
        self.metrics.rejected.labels(source.name, "payload_too_large").inc()
        return _refuse(413, "payload_too_large", max_bytes=self.max_bytes)

    def _dispatch(
        self,
        source: SourceConfig | None,
        raw: bytes,
        headers: Mapping[str, str],
        content_type: str | None,
    ) -> WebhookResponse:
        if source is None or source.verifier is None:
            return _refuse(404, "unknown_source")
        if len(raw) > self.max_bytes:
            return _refuse(413, "payload_too_large", max_bytes=self.max_bytes)
        if not _json_media_type(content_type):
            return _refuse(415, "unsupported_media_type", expected="application/json")
        try:
            scheme_id = source.verifier(raw, headers, self._clock())
        except SignatureError as exc:
            return _refuse(401, "invalid_signature", reason=exc.reason)
        try:
            doc = decode_json(raw)
            events = events_from_body(source, doc, raw, scheme_id)
        except MalformedJson as exc:
            return _refuse(400, "invalid_json", reason=str(exc))
        except PayloadError as exc:
            fields = [{"path": p, "message": m} for p, m in exc.errors[:50]]
            return _refuse(422, "invalid_payload", fields=fields)
        if not events:
            self.metrics.stored.labels(source.name, "ignored").inc()
            ignored_id = scheme_id or body_digest(raw)
            return WebhookResponse(202, {"status": "ignored", "event_id": ignored_id})
        return self._store(source, raw, events)

    def _store(
        self, source: SourceConfig, raw: bytes, events: list[InboundEvent]
    ) -> WebhookResponse:
        results = []
        try:
            inbox = self.inbox()
            for event in events:
                new = inbox.ingest(
                    source.name, event.event_id, event.kind, event.payload, raw, event.employee_id
                )
                result = "accepted" if new else "duplicate"
                self.metrics.stored.labels(source.name, result).inc()
                results.append({"event_id": event.event_id, "status": result})
        except Exception as exc:  # noqa: BLE001 - any store failure is a 503 the sender retries
            # Only the class name: driver messages can quote SQL parameters, i.e. payload data.
            log.error("inbox failed source=%s error=%s", source.name, type(exc).__name__)
            return _refuse(503, "unavailable")
        accepted = any(r["status"] == "accepted" for r in results)
        body: dict[str, Any] = {
            "status": "accepted" if accepted else "duplicate",
            "event_id": results[0]["event_id"],
        }
        if len(results) > 1:
            body["events"] = results
        return WebhookResponse(202, body)


# --- configuration ---------------------------------------------------------------------------


def _split_secrets(value: str | None) -> list[str]:
    return [s.strip() for s in (value or "").split(",") if s.strip()]


def sources_from_settings(
    settings: Settings,
    *,
    extra_json: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, SourceConfig]:
    """The default senders, plus any declared in `CONNECTOR_WEBHOOK_SOURCES` (a JSON list).

    Defaults: "hr" (reviews), "lms" (completions) and "xapi" (statements), all Standard
    Webhooks with `webhook_secrets`; "bamboohr" (employee changes) with
    `bamboohr_webhook_secret`. A source without a secret is disabled (answers 404).
    Raises ConfigError for malformed secrets or declarations, never quoting a secret.
    """
    tolerance = settings.webhook_tolerance_seconds
    shared = _split_secrets(
        settings.webhook_secrets.get_secret_value() if settings.webhook_secrets else None
    )
    try:
        standard = standard_webhook_verifier(shared, tolerance) if shared else None
    except ValueError as exc:
        raise ConfigError(f"CONNECTOR_WEBHOOK_SECRETS: {exc}") from None
    from connector.vendors.bamboohr.client import BambooHRSettings

    bamboo_secret = settings.vendor(BambooHRSettings).webhook_secret
    bamboo = _split_secrets(bamboo_secret.get_secret_value() if bamboo_secret else None)
    sources = {
        "hr": SourceConfig("hr", "review", standard, ReviewFieldMap()),
        "lms": SourceConfig("lms", "completion", standard),
        "xapi": SourceConfig("xapi", "xapi", standard),
        "bamboohr": SourceConfig(
            "bamboohr",
            "bamboohr_employees",
            bamboohr_verifier(bamboo, tolerance) if bamboo else None,
        ),
    }
    environ = os.environ if environ is None else environ
    declared = extra_json if extra_json is not None else environ.get(EXTRA_SOURCES_ENV)
    if declared:
        for source in declared_sources(declared, tolerance=tolerance, environ=environ):
            sources[source.name] = source
    return sources


def declared_sources(
    text: str, *, tolerance: int = 300, environ: Mapping[str, str] | None = None
) -> list[SourceConfig]:
    """Sources from JSON: `[{"name", "kind", "scheme": "standard"|"bamboohr"|"hmac",
    "secrets_env": VAR, "hmac": {HmacScheme fields}, "field_map": {...},
    "xapi_course_prefix": "...", "xapi_move_on": "101=CompletedAndPassed,…"}]`. Secrets
    stay in the environment variable `secrets_env` names (comma-separated), never in the
    JSON itself.
    """
    environ = os.environ if environ is None else environ
    try:
        entries = json.loads(text)
    except ValueError:
        raise ConfigError(f"{EXTRA_SOURCES_ENV}: not valid JSON") from None
    if not isinstance(entries, list):
        raise ConfigError(f"{EXTRA_SOURCES_ENV}: must be a JSON list of sources")
    sources = []
    for index, entry in enumerate(entries):
        where = f"{EXTRA_SOURCES_ENV}[{index}]"
        try:
            sources.append(_declared_source(entry, tolerance, environ))
        except KeyError as exc:  # say which field, never a bare KeyError's 'name'
            raise ConfigError(f"{where}: missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return sources


def _declared_source(entry: Any, tolerance: int, environ: Mapping[str, str]) -> SourceConfig:
    if not isinstance(entry, dict):
        raise TypeError("each source must be an object")
    name = str(entry["name"])
    kind = entry["kind"]
    if kind not in SOURCE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(SOURCE_KINDS)}")
    scheme = entry.get("scheme", "standard")
    secrets = _split_secrets(environ.get(str(entry["secrets_env"]))) if entry.get(
        "secrets_env"
    ) else []
    verifier: Verifier | None = None
    if scheme == "standard":
        verifier = standard_webhook_verifier(secrets, tolerance) if secrets else None
    elif scheme == "bamboohr":
        verifier = bamboohr_verifier(secrets, tolerance) if secrets else None
    elif scheme == "hmac":
        hmac_scheme = HmacScheme(**{"tolerance": tolerance, **entry["hmac"]})
        verifier = hmac_verifier(secrets, hmac_scheme) if secrets else None
    else:
        raise ValueError("scheme must be standard, bamboohr or hmac")
    field_map = ReviewFieldMap.from_dict(entry["field_map"]) if entry.get("field_map") else None
    xapi = XapiOptions(course_prefix=str(entry.get("xapi_course_prefix", "")),
                       move_on=parse_move_on(str(entry.get("xapi_move_on", ""))))
    return SourceConfig(name, kind, verifier, field_map or ReviewFieldMap(), xapi)
