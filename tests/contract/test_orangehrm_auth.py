"""OrangeHRM OAuth: token fetch, refresh before expiry, one refresh on 401, rotation, secrecy."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
import responses

from connector.errors import AuthenticationError, RetriableAPIError
from connector.http import VendorHttp
from connector.vendors.orangehrm.auth import OAuthToken
from connector.vendors.orangehrm.client import error_message
from tests.support.fakes import ManualClock

BASE = "https://hr.acme.test"  # not a placeholder host (those are refused)
TOKEN_URL = f"{BASE}/web/index.php/oauth2/token"
KPIS_URL = f"{BASE}/web/index.php/api/v2/performance/kpis"


def make(clock: ManualClock, *, refresh: str | None = None, seen: list[str] | None = None,
         margin: float = 60.0) -> tuple[OAuthToken, VendorHttp]:
    kw = {"clock": clock, "sleep": lambda _s: None, "jitter": lambda: 0.0,
          "error_message": error_message, "max_attempts": 2}
    token_http = VendorHttp("orangehrm", BASE, **kw)  # type: ignore[arg-type]
    token = OAuthToken(token_http, client_id="cid", client_secret="csecret-1234",
                       refresh_token=refresh, clock=clock, margin=margin,
                       on_refresh_token=seen.append if seen is not None else None)
    return token, VendorHttp("orangehrm", BASE, auth=token, **kw)  # type: ignore[arg-type]


def token_body(access: str, expires_in: int = 3600, refresh: str | None = None) -> dict:
    body: dict = {"token_type": "Bearer", "expires_in": expires_in, "access_token": access}
    if refresh:
        body["refresh_token"] = refresh
    return body


def form_of(call: responses.Call) -> dict[str, str]:
    body = call.request.body
    text = body.decode() if isinstance(body, bytes) else str(body)
    return {k: v[0] for k, v in parse_qs(text).items()}


@responses.activate
def test_client_credentials_token_is_fetched_once_and_sent_as_bearer() -> None:
    clock = ManualClock(1000.0)
    _, http = make(clock)
    responses.post(TOKEN_URL, json=token_body("tok-A"))
    responses.get(KPIS_URL, json={"data": [], "meta": {"total": 0}, "rels": []})

    http.get_json("/web/index.php/api/v2/performance/kpis", operation="list kpis")
    http.get_json("/web/index.php/api/v2/performance/kpis", operation="list kpis")

    token_calls = [c for c in responses.calls if c.request.url == TOKEN_URL]
    assert len(token_calls) == 1
    assert form_of(token_calls[0]) == {"grant_type": "client_credentials", "client_id": "cid",
                                       "client_secret": "csecret-1234"}
    api_calls = [c for c in responses.calls if str(c.request.url).startswith(KPIS_URL)]
    assert [c.request.headers["Authorization"] for c in api_calls] == ["Bearer tok-A"] * 2


@responses.activate
def test_token_is_refreshed_before_expiry_with_the_rotated_refresh_token() -> None:
    clock = ManualClock(1000.0)
    rotated: list[str] = []
    token, _ = make(clock, refresh="r-1", seen=rotated, margin=60)
    responses.post(TOKEN_URL, json=token_body("tok-A", 600, refresh="r-2"))
    responses.post(TOKEN_URL, json=token_body("tok-B", 600, refresh="r-3"))

    assert token.access_token() == "tok-A"
    clock.now += 539  # still more than the 60 s margin left
    assert token.access_token() == "tok-A"
    clock.now += 2  # inside the margin: refresh now, not after a 401
    assert token.access_token() == "tok-B"

    forms = [form_of(c) for c in responses.calls]
    assert [f["grant_type"] for f in forms] == ["refresh_token", "refresh_token"]
    assert [f["refresh_token"] for f in forms] == ["r-1", "r-2"]
    assert rotated == ["r-2", "r-3"]


@responses.activate
def test_one_refresh_on_401_then_the_call_is_sent_once_more() -> None:
    clock = ManualClock(1000.0)
    token, http = make(clock)
    responses.post(TOKEN_URL, json=token_body("tok-A"))
    responses.post(TOKEN_URL, json=token_body("tok-B"))
    responses.get(KPIS_URL, json={"error": "access_denied"}, status=401)
    responses.get(KPIS_URL, json={"data": [{"id": 1}], "meta": {"total": 1}, "rels": []})

    body = http.get_json("/web/index.php/api/v2/performance/kpis", operation="list kpis")

    assert body["data"] == [{"id": 1}]
    api_calls = [c for c in responses.calls if str(c.request.url).startswith(KPIS_URL)]
    assert [c.request.headers["Authorization"] for c in api_calls] == ["Bearer tok-A",
                                                                         "Bearer tok-B"]
    assert token.fetches == 2


@responses.activate
def test_a_second_401_is_an_authentication_error_without_looping() -> None:
    clock = ManualClock(1000.0)
    _, http = make(clock)
    responses.post(TOKEN_URL, json=token_body("tok-A"))
    responses.post(TOKEN_URL, json=token_body("tok-B"))
    responses.get(KPIS_URL, json={"error": "access_denied", "message": "denied"}, status=401)

    with pytest.raises(AuthenticationError) as info:
        http.get_json("/web/index.php/api/v2/performance/kpis", operation="list kpis")

    assert info.value.status == 401
    assert len([c for c in responses.calls if str(c.request.url).startswith(KPIS_URL)]) == 2
    assert len([c for c in responses.calls if c.request.url == TOKEN_URL]) == 2


@responses.activate
@pytest.mark.parametrize(("status", "body"), [
    (400, {"error": "invalid_grant", "error_description": "The refresh token is invalid."}),
    (401, {"error": "invalid_client", "error_description": "Client authentication failed"}),
])
def test_token_endpoint_refusal_is_an_authentication_error_without_secrets(
        status: int, body: dict) -> None:
    clock = ManualClock(1000.0)
    token, _ = make(clock, refresh="r-secret-9999")
    responses.post(TOKEN_URL, json=body, status=status)

    with pytest.raises(AuthenticationError) as info:
        token.access_token()

    text = f"{info.value} {info.value!r}"
    assert body["error"] in text
    for secret in ("r-secret-9999", "csecret-1234"):
        assert secret not in text
        assert secret not in repr(token)


@responses.activate
@pytest.mark.parametrize(("refresh", "body", "says"), [
    ("r-secret-9999", {"error": "invalid_grant", "error_description": "Token revoked"},
     ["consent again", "CONNECTOR_ORANGEHRM_REFRESH_TOKEN", "one-time consent"]),
    ("r-secret-9999", {"error": "invalid_client", "error_description": "Client failed"},
     ["CONNECTOR_ORANGEHRM_CLIENT_ID", "CONNECTOR_ORANGEHRM_CLIENT_SECRET"]),
    (None, {"error": "unsupported_grant_type", "error_description": "Not supported"},
     ["no client_credentials grant", "CONNECTOR_ORANGEHRM_REFRESH_TOKEN"]),
])
def test_a_token_refusal_names_the_setting_and_the_step_that_fix_it(
        refresh: str | None, body: dict, says: list[str]) -> None:
    token, _ = make(ManualClock(1000.0), refresh=refresh)
    responses.post(TOKEN_URL, json=body, status=400)
    with pytest.raises(AuthenticationError) as info:
        token.access_token()
    for words in says:
        assert words in str(info.value)
    assert "r-secret-9999" not in str(info.value)


@responses.activate
def test_token_endpoint_5xx_is_retriable() -> None:
    clock = ManualClock(1000.0)
    token, _ = make(clock)
    responses.post(TOKEN_URL, json={"error": "server_error"}, status=503)

    with pytest.raises(RetriableAPIError):
        token.access_token()


@responses.activate
def test_the_access_token_never_reaches_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    clock = ManualClock(1000.0)
    token, http = make(clock)
    responses.post(TOKEN_URL, json=token_body("tok-very-secret-value"))
    responses.get(KPIS_URL, json={"error": {"status": "500", "message": "boom"}}, status=500)

    with pytest.raises(RetriableAPIError) as info:
        http.get_json("/web/index.php/api/v2/performance/kpis", operation="list kpis")

    everything = caplog.text + repr(token) + repr(http) + str(info.value) + repr(info.value)
    assert "tok-very-secret-value" not in everything
    assert "csecret-1234" not in everything
