"""The OrangeHRM 5 API client: settings, OAuth token holder, error text, paging.

OrangeHRM's errors are `{"error": {"status", "message", "data": {"invalidParamKeys"}}}`;
`invalidParamKeys` names the fields a request got wrong.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
from pydantic import Field, SecretStr

from connector.errors import ConfigError
from connector.http import VendorHttp, json_object
from connector.settings import Settings, VendorSettings, vendor_config
from connector.tokens import TokenChain
from connector.vendors.orangehrm.auth import TOKEN_PATH, OAuthToken, token_error_message

log = logging.getLogger(__name__)

VENDOR = "orangehrm"
API = "/web/index.php/api/v2"


class OrangeHRMSettings(VendorSettings):
    """CONNECTOR_ORANGEHRM_…: review polling and performance trackers, over OAuth."""

    model_config = vendor_config("ORANGEHRM")
    REQUIRED = ("client_id",)

    base_url: str = "https://example.orangehrm.com"
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    include_self_ratings: bool = False
    # Comma-separated empNumbers made reviewers of every tracker the connector opens: the
    # API user's own, since OrangeHRM lets only a tracker's reviewers post its logs. Empty:
    # the employee's manager (the review's reviewer).
    reviewer_emp_numbers: str = ""
    poll_seconds: int = Field(default=600, ge=1)  # finished reviews


def reviewer_numbers(own: OrangeHRMSettings) -> list[int]:
    """`reviewer_emp_numbers` as numbers; a non-number is a ConfigError naming the setting."""
    parts = [p.strip() for p in own.reviewer_emp_numbers.split(",") if p.strip()]
    bad = [p for p in parts if not p.isdigit()]
    if bad:
        raise ConfigError(f"{own.variable('reviewer_emp_numbers')}: {', '.join(bad)} "
                          "is not an empNumber (comma-separated numbers, e.g. 1,42)")
    return [int(p) for p in parts]


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
    # OrangeHRM 5 sends a list of the refused parameters' names (`array_keys` of its error
    # bag, InvalidParamException::getNormalizedErrorBag); some builds send name → reason.
    if isinstance(keys, dict) and keys:
        message += " (" + ", ".join(f"{k}: {v}" for k, v in sorted(keys.items())) + ")"
    elif isinstance(keys, list) and keys:
        message += " (invalid: " + ", ".join(str(k) for k in keys) + ")"
    return message or None


def orangehrm_token(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.monotonic,
    on_refresh_token: Callable[[str], None] | None = None,
    chain: TokenChain | None = None,
    **http_kw: Any,
) -> OAuthToken:
    """The OAuth token holder from settings. Share one per process between the review source
    and the tracker: refresh tokens rotate, so two holders refreshing the same one would
    revoke each other's."""
    own = settings.vendor(OrangeHRMSettings)
    if not own.client_id:
        raise ConfigError(f"{own.variable('client_id')} is required for OrangeHRM")
    own.require_filled()  # a placeholder address: say so, before the first token request
    token_http = VendorHttp(VENDOR, own.base_url, **_http_options(settings, clock, http_kw))
    secret = own.client_secret
    refresh = own.refresh_token
    return OAuthToken(
        token_http,
        client_id=own.client_id,
        client_secret=secret.get_secret_value() if secret else None,
        refresh_token=refresh.get_secret_value() if refresh else None,
        token_path=TOKEN_PATH,
        clock=clock,
        on_refresh_token=on_refresh_token,
        chain=chain,
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
    return VendorHttp(VENDOR, settings.vendor(OrangeHRMSettings).base_url, auth=token,
                      **_http_options(settings, clock, http_kw))


def _http_options(settings: Settings, clock: Callable[[], float],
                  http_kw: dict[str, Any]) -> dict[str, Any]:
    return {
        **settings.http_options(),
        "clock": clock,
        "error_message": error_message,
        "base_url_variable": OrangeHRMSettings.variable("base_url"),
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
