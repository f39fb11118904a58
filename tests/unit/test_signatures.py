"""Signature checks, one table per scheme: every way a delivery can be forged or replayed."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

import pytest

from webhooks.signatures import (
    HmacScheme,
    SignatureError,
    bamboohr_verifier,
    hmac_verifier,
    sign_standard_webhook,
    standard_webhook_verifier,
    verify_bamboohr,
    verify_hmac,
    verify_standard_webhook,
)

NOW = 1_760_000_000
BODY = b'{"type":"course.completed","data":{"course_id":"12"}}'
SECRET = "whsec_" + base64.b64encode(b"current-key-0123456789abcdef").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"previous-key-0123456789abcde").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"someone-elses-key-0123456789").decode()


def test_standard_webhooks_published_test_vector() -> None:
    # The example from the Standard Webhooks specification / reference libraries.
    headers = sign_standard_webhook(
        b'{"test": 2432232314}',
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    )
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _std(
    *,
    body: bytes = BODY,
    signed_body: bytes | None = None,
    secret: str = SECRET,
    ts: int = NOW,
    msg_id: str = "msg_1",
    drop: str | None = None,
    signature: Callable[[str], str] | None = None,
    upper: bool = False,
) -> tuple[bytes, dict[str, str]]:
    headers = sign_standard_webhook(signed_body if signed_body is not None else body, msg_id, ts,
                                    secret)
    if signature:
        headers["webhook-signature"] = signature(headers["webhook-signature"])
    if drop:
        del headers[drop]
    if upper:
        headers = {k.upper(): v for k, v in headers.items()}
    return body, headers


STANDARD_CASES = [
    ("valid", _std(), None),
    ("valid, header names in another case", _std(upper=True), None),
    ("signed with the previous secret during rotation", _std(secret=OLD_SECRET), None),
    ("several signatures, one good", _std(signature=lambda s: "v1,AAAA " + s), None),
    ("exactly at the tolerance edge", _std(ts=NOW - 300), None),
    ("wrong secret", _std(secret=OTHER_SECRET), "signature mismatch"),
    ("tampered body", _std(signed_body=BODY.replace(b"12", b"13")), "signature mismatch"),
    ("stale timestamp", _std(ts=NOW - 301), "timestamp too old"),
    ("future timestamp", _std(ts=NOW + 301), "timestamp in the future"),
    ("missing webhook-id", _std(drop="webhook-id"), "missing webhook-id header"),
    ("missing timestamp", _std(drop="webhook-timestamp"), "missing webhook-timestamp header"),
    ("missing signature", _std(drop="webhook-signature"), "missing webhook-signature header"),
    ("wrong version prefix", _std(signature=lambda s: "v2" + s[2:]), "no v1 signature"),
    ("no comma", _std(signature=lambda s: s.replace(",", "")), "no v1 signature"),
    ("signature not base64", _std(signature=lambda s: "v1,%%%%"), "no v1 signature"),
    ("signature truncated", _std(signature=lambda s: s[:-8]), "signature mismatch"),
]


@pytest.mark.parametrize(("case", "delivery", "reason"), STANDARD_CASES,
                         ids=[c[0] for c in STANDARD_CASES])
def test_standard_webhooks(case: str, delivery: tuple[bytes, dict[str, str]],
                           reason: str | None) -> None:
    body, headers = delivery
    secrets = [SECRET, OLD_SECRET]
    if reason is None:
        assert verify_standard_webhook(body, headers, secrets, now=NOW) == "msg_1"
        return
    with pytest.raises(SignatureError) as info:
        verify_standard_webhook(body, headers, secrets, now=NOW)
    assert info.value.reason == reason
    _assert_no_secret_leak(info.value, secrets, headers)


def test_standard_timestamp_garbage() -> None:
    body, headers = _std()
    for bad in ("soon", "-5", "1.5e9", "\uff11\uff12\uff13", "9" * 40):
        headers["webhook-timestamp"] = bad
        with pytest.raises(SignatureError, match="invalid timestamp"):
            verify_standard_webhook(body, headers, [SECRET], now=NOW)


def test_standard_id_signed_is_the_id_checked() -> None:
    body, headers = _std(msg_id="msg_1")
    headers["webhook-id"] = "msg_2"  # replaying a signature under another id
    with pytest.raises(SignatureError, match="signature mismatch"):
        verify_standard_webhook(body, headers, [SECRET], now=NOW)


def test_secret_without_prefix_and_malformed_secret() -> None:
    body, headers = _std()
    assert verify_standard_webhook(body, headers, [SECRET.removeprefix("whsec_")], now=NOW)
    with pytest.raises(ValueError, match="base64") as info:
        standard_webhook_verifier(["whsec_not base64!"])
    assert "not base64!" not in str(info.value)


def test_standard_verifier_returns_the_event_id() -> None:
    verify = standard_webhook_verifier([SECRET], tolerance=10)
    body, headers = _std(ts=NOW - 5)
    assert verify(body, headers, float(NOW)) == "msg_1"
    with pytest.raises(SignatureError, match="too old"):
        verify(body, headers, float(NOW + 6))


# --- BambooHR -----------------------------------------------------------------------------

BAMBOO_KEY = "bamboo-private-key"


def _bamboo(*, body: bytes = BODY, signed_body: bytes | None = None, key: str = BAMBOO_KEY,
            ts: int = NOW, drop: str | None = None, upper_hex: bool = False,
            order: str = "body+ts") -> tuple[bytes, dict[str, str]]:
    signed = signed_body if signed_body is not None else body
    message = signed + str(ts).encode() if order == "body+ts" else str(ts).encode() + signed
    digest = hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
    headers = {"X-BambooHR-Signature": digest.upper() if upper_hex else digest,
               "X-BambooHR-Timestamp": str(ts)}
    if drop:
        del headers[drop]
    return body, headers


BAMBOO_CASES = [
    ("valid", _bamboo(), None),
    ("valid, upper-case hex", _bamboo(upper_hex=True), None),
    ("rotated key", _bamboo(key="old-key"), None),
    ("wrong key", _bamboo(key="guess"), "signature mismatch"),
    ("timestamp before body", _bamboo(order="ts+body"), "signature mismatch"),
    ("tampered body", _bamboo(signed_body=b"{}"), "signature mismatch"),
    ("stale", _bamboo(ts=NOW - 301), "timestamp too old"),
    ("future", _bamboo(ts=NOW + 301), "timestamp in the future"),
    ("missing signature", _bamboo(drop="X-BambooHR-Signature"),
     "missing X-BambooHR-Signature header"),
    ("missing timestamp", _bamboo(drop="X-BambooHR-Timestamp"),
     "missing X-BambooHR-Timestamp header"),
]


@pytest.mark.parametrize(("case", "delivery", "reason"), BAMBOO_CASES,
                         ids=[c[0] for c in BAMBOO_CASES])
def test_bamboohr(case: str, delivery: tuple[bytes, dict[str, str]], reason: str | None) -> None:
    body, headers = delivery
    secrets = [BAMBOO_KEY, "old-key"]
    if reason is None:
        verify_bamboohr(body, headers, secrets, now=NOW)
        assert bamboohr_verifier(secrets)(body, headers, NOW) is None
        return
    with pytest.raises(SignatureError) as info:
        verify_bamboohr(body, headers, secrets, now=NOW)
    assert info.value.reason == reason
    _assert_no_secret_leak(info.value, secrets, headers)


def test_bamboohr_lowercase_header_names() -> None:
    body, headers = _bamboo()
    verify_bamboohr(body, {k.lower(): v for k, v in headers.items()}, [BAMBOO_KEY], now=NOW)


# --- generic HMAC -------------------------------------------------------------------------

GH = HmacScheme(header="X-Hub-Signature-256", prefix="sha256=")
B64_512_TS = HmacScheme(header="X-Sig", algorithm="sha512", encoding="base64",
                        template="{timestamp}.{body}", timestamp_header="X-Sig-Time",
                        tolerance=60)
BODY_TS = HmacScheme(header="X-Sig", template="{body}{timestamp}", timestamp_header="X-Ts")


def _signed(scheme: HmacScheme, *, key: str = "k1", body: bytes = BODY, ts: int = NOW,
            prefix: str | None = None, tamper: bool = False) -> tuple[bytes, dict[str, str]]:
    message = scheme.message(b"x" + body if tamper else body, str(ts))
    digest = hmac.new(key.encode(), message, scheme.algorithm).digest()
    encoded = digest.hex() if scheme.encoding == "hex" else base64.b64encode(digest).decode()
    headers = {scheme.header: (scheme.prefix if prefix is None else prefix) + encoded}
    if scheme.timestamp_header:
        headers[scheme.timestamp_header] = str(ts)
    return body, headers


HMAC_CASES = [
    ("github style valid", GH, _signed(GH), None),
    ("github style rotated secret", GH, _signed(GH, key="k0"), None),
    ("github style wrong secret", GH, _signed(GH, key="nope"), "signature mismatch"),
    ("github style wrong prefix", GH, _signed(GH, prefix="sha1="), "malformed signature"),
    ("github style missing prefix", GH, _signed(GH, prefix=""), "malformed signature"),
    ("github style tampered", GH, _signed(GH, tamper=True), "signature mismatch"),
    ("github style missing header", GH, (BODY, {}), "missing X-Hub-Signature-256 header"),
    ("sha512 base64 valid", B64_512_TS, _signed(B64_512_TS), None),
    ("sha512 base64 stale", B64_512_TS, _signed(B64_512_TS, ts=NOW - 61), "timestamp too old"),
    ("sha512 base64 future", B64_512_TS, _signed(B64_512_TS, ts=NOW + 61),
     "timestamp in the future"),
    ("sha512 base64 no timestamp", B64_512_TS,
     (BODY, {"X-Sig": _signed(B64_512_TS)[1]["X-Sig"]}), "missing X-Sig-Time header"),
    ("body then timestamp valid", BODY_TS, _signed(BODY_TS), None),
    ("body then timestamp signed as sha512", BODY_TS,
     (BODY, {"X-Sig": "00" * 64, "X-Ts": str(NOW)}), "signature mismatch"),
    ("hex garbage", GH, (BODY, {"X-Hub-Signature-256": "sha256=zz"}), "malformed signature"),
]


@pytest.mark.parametrize(("case", "scheme", "delivery", "reason"), HMAC_CASES,
                         ids=[c[0] for c in HMAC_CASES])
def test_generic_hmac(case: str, scheme: HmacScheme, delivery: tuple[bytes, dict[str, str]],
                      reason: str | None) -> None:
    body, headers = delivery
    secrets = ["k1", "k0"]
    if reason is None:
        verify_hmac(body, headers, secrets, scheme, now=NOW)
        assert hmac_verifier(secrets, scheme)(body, headers, NOW) is None
        return
    with pytest.raises(SignatureError) as info:
        verify_hmac(body, headers, secrets, scheme, now=NOW)
    assert info.value.reason == reason
    _assert_no_secret_leak(info.value, secrets, headers)


@pytest.mark.parametrize("bad", [
    {"algorithm": "md5"},
    {"encoding": "base32"},
    {"template": "{body}.{timestamp}"},
    {"template": "{timestamp}.{body}"},  # needs a timestamp header
])
def test_hmac_scheme_refuses_bad_config(bad: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"unsupported|needs a timestamp_header"):
        HmacScheme(header="X-Sig", **bad)  # type: ignore[arg-type]


def _assert_no_secret_leak(exc: SignatureError, secrets: list[str],
                           headers: dict[str, str]) -> None:
    text = f"{exc} {exc!r} {exc.reason}"
    for secret in secrets:
        assert secret not in text
        assert secret.removeprefix("whsec_") not in text
    for value in headers.values():
        if len(value) > 12:  # signatures; short values (timestamps) may legitimately match
            assert value not in text
