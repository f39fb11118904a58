"""webhooks/openapi.yaml states what the receiver enforces: no body the schema accepts is
refused by the server's own validators (the body parsers behind every 422).

From one valid body per documented endpoint, every field is mutated the ways senders get it
wrong (empty, blank, too long, missing, the wrong type, a time without a zone or out of range)
and each variant is judged twice: by the OpenAPI file (openapi-core, as a client or a
schemathesis run reads it) and by the parser the server runs. A variant the schema accepts
and the server refuses fails this test, with its path and what the server said.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_core import OpenAPI
from openapi_core.exceptions import OpenAPIError
from openapi_core.testing import MockRequest
from openapi_schema_validator import OAS30WriteValidator, oas30_format_checker

from webhooks.bamboohr_body import parse_bamboohr_employees
from webhooks.decoding import PayloadError
from webhooks.lms_body import parse_lms_completion
from webhooks.review_body import ReviewFieldMap, parse_review
from webhooks.xapi_body import parse_xapi

OPENAPI_FILE = Path(__file__).parents[2] / "webhooks" / "openapi.yaml"
DOCUMENT: dict[str, Any] = yaml.safe_load(OPENAPI_FILE.read_text(encoding="utf-8"))
HEADERS = ("hr", "lms", "xapi", "bamboohr")

REVIEW = {"type": "review.completed", "data": {
    "review_id": "r-1", "cycle": "2026-H1", "completed_at": "2026-03-01T10:00:00Z",
    "employee": {"id": "E1", "email": "ann@example.com", "first_name": "Ann",
                 "last_name": "Lee", "role": "Account Executive"},
    "ratings": [{"skill": "negotiation", "value": 2, "label": "Developing", "scale_min": 1,
                 "scale_max": 5, "rater": "manager", "comment": "ok"}]}}
COMPLETION = {"type": "course.completed", "timestamp": "2026-03-02T10:00:00Z", "data": {
    "user_id": "7", "email": "ann@example.com", "employee_id": "E1", "course_id": "123",
    "course_name": "Negotiation 101", "completed_at": "2026-03-02T09:00:00+01:00", "score": 91,
    "certificate_url": "https://lms.example.com/c/1", "expires_at": 1893456000}}
XAPI = {"id": "6f1c7c1e-1d2b-4b6f-9f0e-1c2d3e4f5a6b",
        "actor": {"mbox": "mailto:ann@example.com", "account": {"name": "7"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"id": "123"}, "result": {"success": True, "score": {"scaled": 0.9,
                                                                        "raw": 90}},
        "timestamp": "2026-03-02T10:00:00Z", "stored": "2026-03-02T10:00:05Z"}
BAMBOO_BATCH = {"employees": [{"id": "42", "action": "Updated", "timestamp": "2026-03-02",
                               "fields": {"firstName": {"value": "Ann"}},
                               "changedFields": ["firstName"]}]}
BAMBOO_EVENT = {"type": "employee.updated", "timestamp": "2026-03-02T10:00:00Z",
                "data": {"companyId": 1, "employeeId": "42", "changedFields": ["firstName"]}}

PARSERS: dict[str, Callable[[Any], Any]] = {
    "hr": lambda doc: parse_review(doc, ReviewFieldMap(), source="hr"),
    "lms": lambda doc: parse_lms_completion(doc, source="lms", event_id="e-1"),
    "xapi": lambda doc: parse_xapi(doc, source="xapi"),
    "bamboohr": parse_bamboohr_employees,
}
BODIES = [("hr", REVIEW), ("lms", COMPLETION), ("xapi", XAPI), ("xapi", [XAPI, XAPI]),
          ("bamboohr", BAMBOO_BATCH), ("bamboohr", BAMBOO_EVENT)]

BAD_VALUES: list[Any] = ["", "   ", "x" * 256, "y" * 4001, None, 0, -1, 1e12, True, [], {},
                         "yesterday", "2026-03-01T10:00:00", "2026-13-01T10:00:00Z",
                         "mailto:", "not an email", "ann@example", "2026-03-01T10:00:00z"]
MISSING = object()


def leaves(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield (*path, key)
            yield from leaves(value, (*path, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield (*path, index)
            yield from leaves(value, (*path, index))


def mutated(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    changed = copy.deepcopy(doc)
    parent = changed
    for token in path[:-1]:
        parent = parent[token]
    if value is MISSING:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return changed


def body_validator(document: dict[str, Any], source: str) -> OAS30WriteValidator:
    """The request body's schema as openapi-core validates it (OpenAPI 3.0 rules, formats
    checked), with the document's components resolvable."""
    body = document["paths"][f"/webhooks/{source}"]["post"]["requestBody"]
    schema = {"allOf": [body["content"]["application/json"]["schema"]],
              "components": document["components"]}
    return OAS30WriteValidator(schema, format_checker=oas30_format_checker)


VALIDATORS = {source: body_validator(DOCUMENT, source) for source in HEADERS}


def schema_accepts(source: str, doc: Any) -> bool:
    return VALIDATORS[source].is_valid(doc)


def server_refusal(source: str, doc: Any) -> str | None:
    try:
        PARSERS[source](doc)
    except PayloadError as exc:
        return str(exc.errors)
    return None


def variants() -> Iterator[tuple[str, str, Any]]:
    for source, body in BODIES:
        for path in leaves(body):
            for value in [MISSING, *BAD_VALUES]:
                shown = "<missing>" if value is MISSING else repr(value)[:20]
                yield source, f"{source} {'.'.join(map(str, path))} = {shown}", \
                    mutated(body, path, value)


@pytest.mark.parametrize(("source", "body"), BODIES, ids=[s for s, _ in BODIES])
def test_the_valid_bodies_are_valid_for_both(source: str, body: Any) -> None:
    assert schema_accepts(source, body)
    assert server_refusal(source, body) is None
    # openapi-core, as a client reads the whole file, agrees with the body validator here.
    headers = ({"webhook-id": "m-1", "webhook-timestamp": "1770000000",
                "webhook-signature": "v1,abc"} if source != "bamboohr" else
               {"X-BambooHR-Signature": "a" * 64, "X-BambooHR-Timestamp": "1770000000"})
    assert valid(OpenAPI.from_dict(DOCUMENT), request(source, body, headers))


def test_no_body_the_schema_accepts_is_refused_by_the_server() -> None:
    accepted_but_refused = []
    judged = 0
    for source, where, doc in variants():
        judged += 1
        if schema_accepts(source, doc):
            refusal = server_refusal(source, doc)
            if refusal is not None:
                accepted_but_refused.append(f"{where}: {refusal}")
    assert judged > 1000
    assert accepted_but_refused == []


def test_the_walk_finds_a_constraint_the_schema_leaves_out() -> None:
    """The check can fail: with the non-blank `pattern`s dropped from the file, an empty
    course id passes the schema while the server refuses it."""
    raw = OPENAPI_FILE.read_text(encoding="utf-8")
    loose = raw.replace('pattern: "\\\\S"', 'description: "any"')
    assert loose != raw
    doc = mutated(COMPLETION, ("data", "course_id"), "")
    assert body_validator(yaml.safe_load(loose), "lms").is_valid(doc)
    assert not schema_accepts("lms", doc)
    assert server_refusal("lms", doc) is not None


def request(source: str, doc: Any, headers: dict[str, str]) -> MockRequest:
    return MockRequest("http://localhost", "post", f"/webhooks/{source}", headers=headers,
                       data=json.dumps(doc), content_type="application/json")


def valid(spec: OpenAPI, req: MockRequest) -> bool:
    try:
        spec.validate_request(req)
    except OpenAPIError:
        return False
    return True
