"""BambooHR's official OpenAPI file (../shared/vendor-specs) and checks against it of what we
send and what we are answered: shared by the adapter's contract tests and the simulator's."""

from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.request.exceptions import MissingRequestBody
from openapi_core.validation.request.validators import (
    V31RequestBodyValidator,
    V31RequestParametersValidator,
)
from openapi_core.validation.response.validators import V31ResponseDataValidator

SPEC = Path(__file__).resolve().parents[3] / "shared" / "vendor-specs" / "bamboohr-public-api.yaml"
SPEC_HOST = "https://acme.bamboohr.com"  # the spec's server template


def load_spec() -> OpenAPI:
    """The spec, parsed (it is 690 kB: load it once per module); skips when it is missing."""
    if not SPEC.exists():
        pytest.skip(f"vendor spec not found at {SPEC}")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC.open(encoding="utf-8") as fh:
        document = yaml.load(fh, Loader=loader)  # noqa: S506 - a safe loader either way
    return OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))


def as_openapi(prepared: requests.PreparedRequest) -> MockRequest:
    """A request as sent, addressed to the spec's host (the tests talk to other hosts)."""
    url = urlsplit(prepared.url or "")
    body = prepared.body
    data = body.encode() if isinstance(body, str) else body
    return MockRequest(SPEC_HOST, (prepared.method or "GET").lower(), url.path,
                       args=dict(parse_qsl(url.query)) or None, data=data,
                       content_type=prepared.headers.get("Content-Type", "application/json"))


def check_request(spec: OpenAPI, prepared: requests.PreparedRequest) -> None:
    """Our request's parameters and body are what the spec documents (no extra fields)."""
    request = as_openapi(prepared)
    V31RequestParametersValidator(spec.spec).validate(request)
    # MissingRequestBody is openapi-core's signal for "no body"; raised only when optional.
    with contextlib.suppress(MissingRequestBody):
        V31RequestBodyValidator(spec.spec, forbid_unspecified_additional_properties=True
                                ).validate(request)


def check_response(spec: OpenAPI, prepared: requests.PreparedRequest, status: int,
                   content: bytes) -> None:
    """The answer to `prepared` is one the spec allows (so a fixture or simulator cannot
    drift from the real API)."""
    response = MockResponse(content, status_code=status, content_type="application/json")
    V31ResponseDataValidator(spec.spec).validate(as_openapi(prepared), response)
