"""OAuth 2.0 bearer tokens for the OrangeHRM 5 API: fetch, refresh before expiry, retry on 401.

What the OrangeHRM 5 source says (orangehrm/orangehrm, `src/plugins/orangehrmCoreOAuthPlugin`):
the token endpoint is `POST /web/index.php/oauth2/token` (league/oauth2-server), and the stock
server enables only the `authorization_code` and `refresh_token` grants (`Server/OAuthServer.php`).
So the usual set-up is: an admin registers an OAuth client, authorises it once in a browser, and
gives the connector the refresh token. league rotates refresh tokens (the old one is revoked on
use), so each new one is kept in memory and handed to `on_refresh_token` for the caller to
persist; losing it means the admin must authorise again. `client_credentials` is used only when
no refresh token is configured, for deployments whose OAuth server enables it.

No token ever reaches a log line, an exception message or a repr.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
import requests.auth

from connector.errors import AuthenticationError, VendorError
from connector.http import VendorHttp, json_object
from connector.tokens import Grant, TokenChain

log = logging.getLogger(__name__)

TOKEN_PATH = "/web/index.php/oauth2/token"  # noqa: S105 - a URL path, not a secret
_RETRIED = "_sg_retried"  # set on the one re-sent request, so a second 401 is final
EXPIRY_MARGIN = 60.0  # seconds: refresh this long before the vendor says the token expires


def token_error_message(response: requests.Response) -> str | None:
    """The OAuth error body (`error`, `error_description`) as a short message, no secrets."""
    body = json_object(response)
    if body is None:
        return None
    code = body.get("error")
    description = body.get("error_description") or body.get("message")
    if isinstance(code, str) and isinstance(description, str):
        return f"{code}: {description}"
    if isinstance(code, str):
        return code
    return None


REFRESH_TOKEN_VARIABLE = "CONNECTOR_ORANGEHRM_REFRESH_TOKEN"  # noqa: S105 - a name
CLIENT_VARIABLES = "CONNECTOR_ORANGEHRM_CLIENT_ID and CONNECTOR_ORANGEHRM_CLIENT_SECRET"
CONSENT_STEP = 'docs/vendors.md, "OAuth client and the one-time consent", steps 2-4'


def _what_to_do(message: str, *, refreshing: bool) -> str:
    """The token endpoint's refusal with the step that fixes it: a refused refresh token
    (revoked, rotated by another process, expired) needs a person to consent again."""
    if "invalid_grant" in message and refreshing:
        return (f"{message}. The refresh token is no longer valid: consent again in OrangeHRM "
                f"({CONSENT_STEP}) and put the new refresh token in {REFRESH_TOKEN_VARIABLE}")
    if "invalid_client" in message:
        return f"{message}. OrangeHRM does not know this client: check {CLIENT_VARIABLES}"
    if "unsupported_grant_type" in message and not refreshing:
        return (f"{message}. This OrangeHRM has no client_credentials grant: get a refresh "
                f"token by a one-time consent ({CONSENT_STEP}) and set {REFRESH_TOKEN_VARIABLE}")
    return message


class OAuthToken(requests.auth.AuthBase):
    """A bearer-token holder that `VendorHttp` uses as its `auth`.

    Fetches a token on first use, refreshes it `margin` seconds before `expires_in` runs out
    (on the injected monotonic `clock`), and on a 401 from the API refreshes once and sends
    the same request again once. Thread-safe: workers sharing one client share one token.
    """

    def __init__(
        self,
        token_http: VendorHttp,
        *,
        client_id: str,
        client_secret: str | None = None,
        refresh_token: str | None = None,
        token_path: str = TOKEN_PATH,
        clock: Callable[[], float] = time.monotonic,
        margin: float = EXPIRY_MARGIN,
        on_refresh_token: Callable[[str], None] | None = None,
        chain: TokenChain | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = token_http
        # Kept in the store and shared by every process (connector/tokens.py); without it
        # the grant lives in memory only and each rotation goes to `on_refresh_token`.
        self._chain = chain
        self._wall_clock = wall_clock
        self._rejected: str | None = None
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._token_path = token_path
        self._clock = clock
        self._margin = margin
        self._on_refresh_token = on_refresh_token
        self._lock = threading.Lock()
        self._access_token: str | None = None
        self._expires_at = 0.0
        self.fetches = 0  # how many times the token endpoint answered with a token

    def __repr__(self) -> str:
        grant = "refresh_token" if self._refresh_token else "client_credentials"
        return f"OAuthToken(client_id={self._client_id!r}, grant={grant!r})"

    # -- the token --

    def access_token(self) -> str:
        """A token valid for at least `margin` more seconds, fetched if needed."""
        with self._lock:
            if self._access_token is None or self._clock() >= self._expires_at:
                self._fetch()
            assert self._access_token is not None  # noqa: S101 - set by _fetch or it raised
            return self._access_token

    def invalidate(self, rejected: str | None = None) -> None:
        """Forget the token (the API refused it), unless another thread already replaced it."""
        with self._lock:
            if rejected is None or rejected == self._access_token:
                self._rejected = self._access_token
                self._access_token = None

    def _fetch(self) -> None:
        if self._chain is not None:
            grant = self._chain.renew(self._request, configured=self._refresh_token,
                                      rejected=self._rejected)
        else:
            grant = self._request(self._refresh_token)
            if grant.refresh_token and grant.refresh_token != self._refresh_token:
                self._refresh_token = grant.refresh_token
                if self._on_refresh_token is not None:
                    self._on_refresh_token(grant.refresh_token)
        self._access_token = grant.access_token
        self._rejected = None
        # The grant's expiry is wall-clock (it is shared between processes); this holder
        # counts down on its own monotonic clock from what is left of it.
        left = max(grant.usable_until - self._wall_clock(), 0.0)
        self._expires_at = self._clock() + left

    def _request(self, refresh_token: str | None) -> Grant:
        """One call to the token endpoint: a refresh (or client credentials) → a `Grant`."""
        if refresh_token:
            form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        else:
            form = {"grant_type": "client_credentials"}
        form["client_id"] = self._client_id
        if self._client_secret:
            form["client_secret"] = self._client_secret
        try:
            body = self._http.post_json(self._token_path, operation="oauth token", data=form)
        except AuthenticationError:
            raise
        except VendorError as exc:
            if exc.status in (400, 401):
                # league answers a bad or revoked refresh token with 400/401 invalid_grant.
                raise AuthenticationError(
                    _what_to_do(exc.message, refreshing=bool(self._refresh_token)),
                    vendor=exc.vendor, operation=exc.operation, status=exc.status,
                    body_excerpt=None, request_id=exc.request_id) from None
            raise
        token, expires_in, new_refresh = _parse_token(body)
        ttl = max(float(expires_in), 0.0)
        usable = max(ttl - min(self._margin, ttl / 2), 0.0)
        self.fetches += 1
        log.info("orangehrm access token obtained (expires in %ds)", int(ttl))
        return Grant(access_token=token, usable_until=self._wall_clock() + usable,
                     refresh_token=new_refresh)

    # -- requests.auth.AuthBase --

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.access_token()}"
        request.register_hook("response", self._retry_once_on_401)
        return request

    def _retry_once_on_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        """On a 401, get a fresh token and send the same request once more (no loop)."""
        if response.status_code != 401 or getattr(response.request, _RETRIED, False):
            return response
        sent = response.request.headers.get("Authorization", "")
        self.invalidate(sent.removeprefix("Bearer ") or None)
        token = self.access_token()
        response.content  # noqa: B018 - read the body so the connection can be reused
        response.close()
        again = response.request.copy()
        again.headers["Authorization"] = f"Bearer {token}"
        setattr(again, _RETRIED, True)
        retried: requests.Response = response.connection.send(again, **kwargs)
        retried.history.append(response)
        retried.request = again
        log.info("orangehrm answered 401; token refreshed and the call sent once more")
        return retried


def _parse_token(body: Any) -> tuple[str, float, str | None]:
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise AuthenticationError(
            "the token endpoint answered without an access_token",
            vendor="orangehrm", operation="oauth token")
    try:
        expires_in = float(body.get("expires_in") or 3600)
    except (TypeError, ValueError):
        expires_in = 3600.0
    refresh = body.get("refresh_token")
    return body["access_token"], expires_in, refresh if isinstance(refresh, str) else None
