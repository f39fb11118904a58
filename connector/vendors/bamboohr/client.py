"""The HTTP client for BambooHR, and how BambooHR's errors read.

Errors often arrive with an empty body and the reason in `X-BambooHR-Error-Message`
(the official OpenAPI file, `shared/vendor-specs/bamboohr-public-api.yaml`).
"""

from __future__ import annotations

from typing import Any

import requests
from pydantic import Field, SecretStr

from connector.errors import ConfigError, FatalAPIError
from connector.http import VendorHttp, json_object
from connector.settings import Settings, VendorSettings, vendor_config

VENDOR = "bamboohr"


class BambooHRSettings(VendorSettings):
    """CONNECTOR_BAMBOOHR_…: goals, the directory and employee webhooks."""

    model_config = vendor_config("BAMBOOHR")
    REQUIRED = ("api_key",)

    base_url: str = "https://example.bamboohr.com"
    api_key: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    close_goals: bool = True
    training_type_id: int | None = None
    active_statuses: str = "Active"  # comma-separated BambooHR statuses that count as active
    poll_seconds: int = Field(default=600, ge=1)  # the directory

    def active_status_list(self) -> list[str]:
        return [s.strip().lower() for s in self.active_statuses.split(",") if s.strip()]
ERROR_HEADER = "X-BambooHR-Error-Message"


def bamboohr_error_message(response: requests.Response) -> str | None:
    """BambooHR's reason for a failed call: the header first (bodies are often empty)."""
    header = response.headers.get(ERROR_HEADER, "").strip()
    if header:
        return header
    body = json_object(response)
    if body is not None:
        for value in (body.get("error"), body.get("message"), body.get("errors")):
            candidate = value.get("message") or value.get("error") if isinstance(value, dict) \
                else value
            if isinstance(candidate, str) and candidate.strip():
                return candidate.strip()
    return None


def bamboohr_http(settings: Settings, own: BambooHRSettings, **http_kw: Any) -> VendorHttp:
    """Basic auth with the API key as user and `x` as password."""
    own.require_filled()  # a placeholder address or no key: say which, before any call
    if own.api_key is None:
        raise ConfigError(f"{own.variable('api_key')} is not set")
    return VendorHttp(
        VENDOR, own.base_url, auth=(own.api_key.get_secret_value(), "x"),
        headers={"Accept": "application/json"}, error_message=bamboohr_error_message,
        base_url_variable=own.variable("base_url"),
        **{**settings.http_options(), **http_kw},
    )


def numeric_id(value: str, operation: str) -> int:
    """BambooHR's employee ids are numbers; anything else is refused before a call."""
    try:
        return int(value)
    except ValueError:
        raise FatalAPIError(f"BambooHR employee ids are numeric, got {value!r}",
                            vendor=VENDOR, operation=operation) from None
