"""Webhook signature checks over the raw request bytes, free of any web framework.

Three schemes: Standard Webhooks (our default, and what our own outbound webhook signs with),
BambooHR's employee webhooks, and a configurable generic HMAC for other senders. Each check runs
before the body is parsed, compares in constant time and refuses timestamps outside a window
(both stale and future ones), so a captured delivery cannot be replayed later. A failure raises
`SignatureError` whose `reason` is safe to send back to the client: it never contains the
expected signature, the received one or a secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Verifier = Callable[[bytes, Mapping[str, str], float], str | None]
"""(raw body, headers, now) → the event id the scheme carries (or None); raises SignatureError."""

STANDARD_SECRET_PREFIX = "whsec_"  # noqa: S105 - a format marker, not a secret
MAX_EVENT_ID_LENGTH = 255
_MAX_SIGNATURES = 16  # rotation needs two or three; more is someone probing


class SignatureError(Exception):
    """The delivery is not authentic. `reason` is short and safe to return to the sender."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works for plain dicts and framework header maps."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = headers.get(lowered)  # the receiver passes its headers with lowercase names
    if value is None:
        for key, candidate in headers.items():
            if key.lower() == lowered:
                value = candidate
                break
    return value


def _required(headers: Mapping[str, str], name: str) -> str:
    value = header(headers, name)
    if value is None or not value.strip():
        raise SignatureError(f"missing {name} header")
    return value.strip()


def _parse_timestamp(timestamp: str) -> int:
    """Unix seconds, or an ISO 8601 time with a zone (BambooHR's header format is not pinned
    down by its spec; the signed bytes are the header as sent either way)."""
    if timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12:
        return int(timestamp)
    if timestamp.isascii() and 10 <= len(timestamp) <= 40:
        try:
            when = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if when.tzinfo is not None:
                return int(when.timestamp())
    raise SignatureError("invalid timestamp")


def _check_window(timestamp: str, now: float, tolerance: int) -> int:
    """Parse the timestamp and refuse anything more than `tolerance` from `now` either way."""
    seconds = _parse_timestamp(timestamp)
    if now - seconds > tolerance:
        raise SignatureError("timestamp too old")
    if seconds - now > tolerance:
        raise SignatureError("timestamp in the future")
    return seconds


def decode_standard_secret(secret: str) -> bytes:
    """The HMAC key of a `whsec_…` secret (the prefix is optional). ValueError when malformed.

    The message never includes the secret, so a config error can be shown safely.
    """
    body = secret.strip()
    if body.startswith(STANDARD_SECRET_PREFIX):
        body = body[len(STANDARD_SECRET_PREFIX) :]
    try:
        key = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook secret is not whsec_ followed by base64") from None
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def _standard_signature(key: bytes, msg_id: str, timestamp: str, raw: bytes) -> bytes:
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + raw
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign_standard_webhook(raw: bytes, msg_id: str, timestamp: int, secret: str) -> dict[str, str]:
    """The three Standard Webhooks headers for one delivery of `raw`."""
    digest = _standard_signature(decode_standard_secret(secret), msg_id, str(timestamp), raw)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


def verify_standard_webhook(
    raw: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    *,
    now: float,
    tolerance: int = 300,
) -> str:
    """Check a Standard Webhooks delivery and return its `webhook-id` (the dedupe key).

    Any of `secrets` may match (rotation). Signatures other than `v1` are ignored.
    """
    msg_id = _required(headers, "webhook-id")
    timestamp = _required(headers, "webhook-timestamp")
    signature_header = _required(headers, "webhook-signature")
    if len(msg_id) > MAX_EVENT_ID_LENGTH or not msg_id.isprintable():
        raise SignatureError("invalid webhook-id")
    _check_window(timestamp, now, tolerance)

    offered: list[bytes] = []
    for entry in signature_header.split()[:_MAX_SIGNATURES]:
        version, _, encoded = entry.partition(",")
        if version != "v1" or not encoded:
            continue
        try:
            offered.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not offered:
        raise SignatureError("no v1 signature")

    matched = False
    for secret in secrets:
        expected = _standard_signature(decode_standard_secret(secret), msg_id, timestamp, raw)
        # Check every pair rather than stopping early: timing must not say which one matched.
        for signature in offered:
            matched |= hmac.compare_digest(expected, signature)
    if not matched:
        raise SignatureError("signature mismatch")
    return msg_id


def verify_bamboohr(
    raw: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    *,
    now: float,
    tolerance: int = 300,
) -> None:
    """Check a BambooHR webhook: hex HMAC-SHA256 of the raw body followed by the timestamp.

    BambooHR deliveries carry no event id, so nothing is returned. The body-then-timestamp
    order comes from the vendor's documentation sample (VENDORS.md marks it unconfirmed).
    """
    scheme = HmacScheme(
        header="X-BambooHR-Signature",
        template="{body}{timestamp}",
        timestamp_header="X-BambooHR-Timestamp",
        tolerance=tolerance,
    )
    verify_hmac(raw, headers, secrets, scheme, now=now)


@dataclass(frozen=True)
class HmacScheme:
    """How one generic sender signs: header, prefix, digest, encoding, message and window."""

    header: str
    prefix: str = ""
    algorithm: Literal["sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    template: Literal["{body}", "{body}{timestamp}", "{timestamp}.{body}"] = "{body}"
    timestamp_header: str | None = None
    tolerance: int = 300

    def __post_init__(self) -> None:
        if self.algorithm not in ("sha256", "sha512"):
            raise ValueError(f"unsupported HMAC algorithm {self.algorithm!r}")
        if self.encoding not in ("hex", "base64"):
            raise ValueError(f"unsupported signature encoding {self.encoding!r}")
        if self.template not in ("{body}", "{body}{timestamp}", "{timestamp}.{body}"):
            raise ValueError(f"unsupported signed-message template {self.template!r}")
        if "{timestamp}" in self.template and not self.timestamp_header:
            raise ValueError(f"template {self.template} needs a timestamp_header")

    def message(self, raw: bytes, timestamp: str) -> bytes:
        if self.template == "{body}{timestamp}":
            return raw + timestamp.encode()
        if self.template == "{timestamp}.{body}":
            return timestamp.encode() + b"." + raw
        return raw


def _decode_digest(value: str, encoding: str) -> bytes:
    try:
        if encoding == "hex":
            return bytes.fromhex(value)
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("malformed signature") from None


def verify_hmac(
    raw: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    scheme: HmacScheme,
    *,
    now: float,
) -> None:
    """Check a generic HMAC signature as `scheme` describes. Secrets are used as UTF-8 keys."""
    value = _required(headers, scheme.header)
    timestamp = ""
    if scheme.timestamp_header:
        timestamp = _required(headers, scheme.timestamp_header)
        _check_window(timestamp, now, scheme.tolerance)
    if not value.startswith(scheme.prefix):
        raise SignatureError("malformed signature")
    offered = _decode_digest(value[len(scheme.prefix) :].strip(), scheme.encoding)
    message = scheme.message(raw, timestamp)
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), message, scheme.algorithm).digest()
        matched |= hmac.compare_digest(expected, offered)
    if not matched:
        raise SignatureError("signature mismatch")


def standard_webhook_verifier(secrets: Sequence[str], tolerance: int = 300) -> Verifier:
    """A `Verifier` for Standard Webhooks; secrets are checked now so a typo fails at startup."""
    frozen = tuple(secrets)
    for secret in frozen:
        decode_standard_secret(secret)

    def verify(raw: bytes, headers: Mapping[str, str], now: float) -> str | None:
        return verify_standard_webhook(raw, headers, frozen, now=now, tolerance=tolerance)

    return verify


def bamboohr_verifier(secrets: Sequence[str], tolerance: int = 300) -> Verifier:
    frozen = tuple(secrets)

    def verify(raw: bytes, headers: Mapping[str, str], now: float) -> str | None:
        verify_bamboohr(raw, headers, frozen, now=now, tolerance=tolerance)
        return None

    return verify


def hmac_verifier(secrets: Sequence[str], scheme: HmacScheme) -> Verifier:
    frozen = tuple(secrets)

    def verify(raw: bytes, headers: Mapping[str, str], now: float) -> str | None:
        verify_hmac(raw, headers, frozen, scheme, now=now)
        return None

    return verify
