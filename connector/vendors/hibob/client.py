"""HiBob's settings, its HTTP clients (one per rate-limit bucket), and how its errors read.

Facts (shared/VENDORS-next.md, "HiBob" §1): Basic auth with a service user's id and token;
rate limits are per endpoint and per minute (`/v1/people/search` allows 50/min), over the limit
is a 429; the error body differs by module (the Goals API adds `statusCode` and `timestamp`).
A service user starts with no permissions, and a read it may not fully see answers 200 with the
fields left out, so the directory checks for missing fields instead of trusting the status.

Rate limits use the store's shared budget (`RateBudget`, one bucket per HiBob endpoint group,
shared by every worker): `EndpointBudget` files each client's calls under its own bucket name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from pydantic import Field, SecretStr

from connector.errors import ConfigError
from connector.http import RateBudget, VendorHttp, json_object
from connector.settings import Settings, VendorSettings, vendor_config

VENDOR = "hibob"
SEARCH_BUCKET = "hibob:people-search"
GOALS_BUCKET = "hibob:goals"
MAX_ITEMS_PER_CREATE = 25  # goals and key results per create call; more fails the whole call


class HiBobSettings(VendorSettings):
    """CONNECTOR_HIBOB_…: development goals with key results, and the people directory."""

    model_config = vendor_config("HIBOB")
    REQUIRED = ("service_user_id", "token")

    base_url: str = "https://api.hibob.com/v1"
    service_user_id: SecretStr | None = None
    token: SecretStr | None = None
    goal_type_id: str | None = None  # the Individual goal type's id (empty: HiBob's default)
    close_goals: bool = True
    done_status: str = "completed"  # the goal status for "done" (*unconfirmed* value)
    open_status: str = "inProgress"  # the status a reopened goal gets (*unconfirmed* value)
    active_statuses: str = "Active"  # `internal.status` values that count as active
    search_per_minute: int = Field(default=50, ge=1)  # documented for /people/search
    goals_per_minute: int = Field(default=50, ge=1)  # not published: the search's, to be safe
    poll_seconds: int = Field(default=600, ge=1)  # the directory

    def active_status_list(self) -> list[str]:
        return [s.strip().lower() for s in self.active_statuses.split(",") if s.strip()]


def per_minute_budget(limit: int) -> tuple[int, float]:
    """(calls per hour, burst) for a bucket that never spends more than `limit` calls in any
    60 s: a burst of a tenth, refilled at the rest per minute (burst + a minute's refill =
    `limit`), because HiBob counts fixed one-minute windows and a full-size burst on top of a
    minute's refill would overrun one."""
    burst = max(1, limit // 10)
    return max(1, limit - burst) * 60, float(burst)


@dataclass(frozen=True)
class EndpointBudget:
    """The shared budget, with this client's calls filed under `bucket` (HiBob limits each
    endpoint on its own, so people search and goals never starve each other)."""

    inner: RateBudget
    bucket: str

    def acquire(self, vendor: str) -> float:
        return self.inner.acquire(self.bucket)


def hibob_error_message(response: requests.Response) -> str | None:
    """HiBob's reason for a failed call: `message`, `error` or the first of `errors`."""
    body = json_object(response)
    if body is None:
        return None
    for found in (body.get("message"), body.get("error"), body.get("errors")):
        value = found[0] if isinstance(found, list) and found else found
        if isinstance(value, dict):
            value = value.get("message") or value.get("error")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def hibob_http(settings: Settings, own: HiBobSettings, bucket: str,
               **http_kw: Any) -> VendorHttp:
    """A client for one rate-limit bucket: Basic auth with the service user's id and token."""
    own.require_filled()
    if own.service_user_id is None or own.token is None:
        raise ConfigError(f"{own.variable('service_user_id')} and {own.variable('token')} "
                          "must both be set")
    budget = http_kw.pop("budget", None)
    if budget is not None:
        http_kw["budget"] = EndpointBudget(budget, bucket)
    return VendorHttp(
        VENDOR, own.base_url,
        auth=(own.service_user_id.get_secret_value(), own.token.get_secret_value()),
        headers={"Accept": "application/json", "Content-Type": "application/json"},
        error_message=hibob_error_message, base_url_variable=own.variable("base_url"),
        **{**settings.http_options(), **http_kw},
    )


def items_of(body: Any, *keys: str) -> list[Any] | None:
    """The list in an answer: the body itself when it is a list, else the first of `keys`
    (HiBob's answer envelopes are *unconfirmed*: `items`, `results`, `employees`…)."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key in keys:
            found = body.get(key)
            if isinstance(found, list):
                return found
    return None
