"""BambooHR webhook signatures and payloads: a fixed test vector (computed with `openssl dgst`,
not with our code), every refusal, and both documented payload shapes."""

from __future__ import annotations

from typing import Any

import pytest

from webhooks.bamboohr_body import parse_bamboohr_employees
from webhooks.decoding import PayloadError
from webhooks.signatures import SignatureError, verify_bamboohr


def verify_bamboohr_signature(body: bytes, hdrs: dict[str, str], secret: str, *, now: float,
                              tolerance: int = 300) -> None:
    verify_bamboohr(body, hdrs, [secret] if secret else [], now=now, tolerance=tolerance)


parse_employee_webhook = parse_bamboohr_employees
WebhookPayloadError = PayloadError

SECRET = "whsec-test"
BODY = b'{"type":"employee.updated"}'
STAMP = "1767225600"  # 2026-01-01T00:00:00Z
# printf '%s' '{"type":"employee.updated"}1767225600' | openssl dgst -sha256 -hmac whsec-test
SIGNATURE = "b1b11f49de82712fa650ad64cc37f59c15de5c1f53f2c7b3e48a82c32630bf6d"
NOW = 1767225600.0


def headers(signature: str = SIGNATURE, stamp: str = STAMP) -> dict[str, str]:
    return {"X-BambooHR-Signature": signature, "X-BambooHR-Timestamp": stamp}


def test_a_good_signature_passes() -> None:
    verify_bamboohr_signature(BODY, headers(), SECRET, now=NOW)


def test_header_names_and_hex_case_do_not_matter() -> None:
    lowered = {k.lower(): v.upper() for k, v in headers().items()}
    verify_bamboohr_signature(BODY, lowered, SECRET, now=NOW + 299)


@pytest.mark.parametrize(("body", "hdrs", "secret", "now", "reason"), [
    (BODY, headers(), "another-secret", NOW, "signature mismatch"),
    (BODY + b" ", headers(), SECRET, NOW, "signature mismatch"),
    (b'{"type":"employee.deleted"}', headers(), SECRET, NOW, "signature mismatch"),
    (BODY, headers(stamp="1767225601"), SECRET, NOW, "signature mismatch"),  # stamp is signed
    (BODY, headers(), SECRET, NOW + 301, "timestamp outside"),  # stale
    (BODY, headers(), SECRET, NOW - 301, "timestamp outside"),  # from the future
    (BODY, {"X-BambooHR-Timestamp": STAMP}, SECRET, NOW, "missing signature"),
    (BODY, {"X-BambooHR-Signature": SIGNATURE}, SECRET, NOW, "missing timestamp"),
    (BODY, headers(stamp="yesterday"), SECRET, NOW, "malformed timestamp"),
    (BODY, headers(signature="sha256=" + SIGNATURE), SECRET, NOW, "signature mismatch"),
    (BODY, headers(), "", NOW, "no webhook secret"),
])
def test_bad_deliveries_are_refused(body: bytes, hdrs: dict[str, str], secret: str, now: float,
                                    reason: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_bamboohr_signature(body, hdrs, secret, now=now)
    assert caught.value.reason  # a short reason the 401 body can carry
    assert SECRET not in str(caught.value) and SIGNATURE not in str(caught.value)


def test_the_tolerance_is_configurable() -> None:
    verify_bamboohr_signature(BODY, headers(), SECRET, now=NOW + 900, tolerance=900)
    with pytest.raises(SignatureError):
        verify_bamboohr_signature(BODY, headers(), SECRET, now=NOW + 61, tolerance=60)


# -- payloads ------------------------------------------------------------------------------------


def test_the_documented_event_payloads_parse() -> None:
    updated = {"type": "employee.updated", "timestamp": "2025-02-18T15:30:00Z",
               "data": {"companyId": "12345", "employeeId": "100",
                        "changedFields": ["firstName", "workEmail"]}}
    deleted = {"type": "employee.deleted", "timestamp": "2025-02-18T15:31:00Z",
               "data": {"companyId": "12345", "employeeId": "100"}}

    [change] = parse_employee_webhook(updated)
    [gone] = parse_employee_webhook(deleted)

    assert change.employee_id == "100"
    assert change.action == "updated"
    assert change.timestamp == "2025-02-18T15:30:00Z"
    assert change.changed_fields == ("firstName", "workEmail")
    assert gone.action == "deleted"
    assert gone.changed_fields == ()
    assert change.event_id() != gone.event_id()
    assert change.event_id() == parse_employee_webhook(updated)[0].event_id()  # redelivery


def test_the_legacy_batch_payload_parses() -> None:
    payload = {"employees": [
        {"id": "7", "action": "Updated", "timestamp": "2026-03-01T10:00:00+00:00",
         "fields": {"workEmail": "ann.new@example.com"}, "changedFields": ["workEmail"]},
        {"id": "8", "action": "Deleted", "timestamp": "2026-03-01T10:00:01+00:00",
         "fields": {}, "changedFields": []},
        {"id": "9", "action": "Created", "timestamp": "2026-03-01T10:00:02"},
    ]}

    changes = parse_employee_webhook(payload)

    assert [(c.employee_id, c.action) for c in changes] == [
        ("7", "updated"), ("8", "deleted"), ("9", "created")]
    assert changes[0].fields == {"workEmail": "ann.new@example.com"}
    assert changes[2].timestamp == "2026-03-01T10:00:02"


@pytest.mark.parametrize("payload", [
    {"type": "company.updated", "data": {"companyId": "1"}},
    {"type": "employee.updated", "data": {}},
    {"type": "employee.archived", "data": {"employeeId": "1"}},
    {"employees": [{"action": "Updated"}]},
    {"employees": {"id": "7"}},
    {"employees": [{"id": "7", "action": "Renamed"}]},
    ["not", "an", "object"],
])
def test_other_payloads_are_refused(payload: Any) -> None:
    with pytest.raises(WebhookPayloadError):
        parse_employee_webhook(payload)


def test_an_iso_timestamp_header_is_accepted_too() -> None:
    # The spec does not pin the header's format; the signed bytes are the header as sent.
    import hashlib
    import hmac

    stamp = "2026-01-01T00:00:00Z"
    signature = hmac.new(SECRET.encode(), BODY + stamp.encode(), hashlib.sha256).hexdigest()
    verify_bamboohr_signature(BODY, headers(signature, stamp), SECRET, now=NOW)
    with pytest.raises(SignatureError, match="timestamp too old"):
        verify_bamboohr_signature(BODY, headers(signature, stamp), SECRET, now=NOW + 301)
