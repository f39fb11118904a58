"""Parsing verified webhook bodies: shapes, field paths in errors, and size/depth limits."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connector.models import Outcome, Review
from webhooks.bamboohr_body import parse_bamboohr_employees
from webhooks.decoding import MAX_DEPTH, MalformedJson, PayloadError, decode_json
from webhooks.fieldpaths import parse_path, render_path
from webhooks.lms_body import parse_lms_completion
from webhooks.review_body import ReviewFieldMap, ThinReview, parse_review
from webhooks.xapi_body import XapiOptions, parse_xapi

# --- JSON decoding ------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "error"), [
    (b"\xff\xfe{}", MalformedJson),
    (b"{", MalformedJson),
    (b"", MalformedJson),
    (b'{"a": NaN}', MalformedJson),
    (b'{"a": Infinity}', MalformedJson),
    (b"1" * 5000, MalformedJson),  # beyond Python's int digit limit
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), PayloadError),
    (b"[" * 200_000 + b"]" * 200_000, PayloadError),  # deeper than the parser's own stack
    (b'{"a":' * 40 + b"1" + b"}" * 40, PayloadError),
])
def test_decode_json_refuses(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_json(raw)


def test_decode_json_accepts_nesting_up_to_the_limit() -> None:
    raw = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert decode_json(raw) is not None


@pytest.mark.parametrize(("path", "tokens"), [
    ("data.ratings[0].skill", ("data", "ratings", 0, "skill")),
    ("a", ("a",)),
    ("[2][3].x", (2, 3, "x")),
    ("scores[10]", ("scores", 10)),
])
def test_paths_round_trip(path: str, tokens: tuple[Any, ...]) -> None:
    assert parse_path(path) == tokens
    assert render_path(tokens) == path


@pytest.mark.parametrize("path", ["", "a..b", "a[x]", "a[0", "a]", "a.[", "a b[-1]"])
def test_malformed_paths(path: str) -> None:
    with pytest.raises(ValueError, match="malformed field path"):
        parse_path(path)


# --- reviews ------------------------------------------------------------------------------

REVIEW: dict[str, Any] = {
    "type": "review.completed",
    "data": {
        "review_id": "r-1",
        "cycle": "2026-H1",
        "completed_at": "2026-03-01T10:00:00Z",
        "employee": {"id": 42, "email": "ann@example.com", "first_name": "Ann",
                     "last_name": "Lee", "role": "Account Executive"},
        "ratings": [
            {"skill": "Negotiation", "value": 2, "scale_min": 1, "scale_max": 5,
             "rater": "manager", "comment": "needs practice"},
            {"skill": "Forecasting", "label": "Meets expectations", "rater": "self"},
            {"skill": "KPI 12", "value": "3.5"},
        ],
    },
}


def _review(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(REVIEW)
    for dotted, value in changes.items():
        node = doc
        *parents, last = dotted.split("__")
        for name in parents:
            node = node[int(name)] if isinstance(node, list) else node[name]
        if value is ...:
            del node[int(last) if isinstance(node, list) else last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return doc


def test_full_review_with_the_default_mapping() -> None:
    review = parse_review(REVIEW, ReviewFieldMap(), source="hr")
    assert isinstance(review, Review)
    assert review.review_id == "r-1"
    assert review.source == "hr"
    assert review.employee.employee_id == "42"
    assert review.employee.role == "Account Executive"
    assert review.completed_at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    first, second, third = review.ratings
    assert (first.skill_key, first.value, first.scale_min, first.scale_max) == (
        "Negotiation", 2.0, 1.0, 5.0)
    assert first.comment == "needs practice"
    assert (second.label, second.value, second.rater) == ("Meets expectations", None, "self")
    assert (third.value, third.rater) == (3.5, "manager")


def test_review_with_a_custom_mapping_and_indexes() -> None:
    doc = {
        "event": {"subject": [{"workerId": "E-7", "mail": "bo@example.com"}],
                  "assessment": {"id": 991, "period": "FY26", "closed": 1772359200,
                                 "competencies": [{"name": "Coaching",
                                                   "score": {"points": 1, "of": [0, 4]}}]}},
    }
    field_map = ReviewFieldMap.from_dict({
        "employee_id": "event.subject[0].workerId",
        "email": "event.subject[0].mail",
        "first_name": None, "last_name": None, "role": None,
        "review_id": "event.assessment.id",
        "cycle": "event.assessment.period",
        "completed_at": "event.assessment.closed",
        "ratings": "event.assessment.competencies",
        "rating_skill": "name",
        "rating_value": "score.points",
        "rating_scale_min": "score.of[0]",
        "rating_scale_max": "score.of[1]",
        "rating_label": None, "rating_rater": None, "rating_comment": None,
    })
    review = parse_review(doc, field_map, source="workday")
    assert isinstance(review, Review)
    assert review.employee.employee_id == "E-7"
    assert review.review_id == "991"
    assert review.completed_at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert review.ratings[0].model_dump(include={"skill_key", "value", "scale_min", "scale_max",
                                                 "rater"}) == {
        "skill_key": "Coaching", "value": 1.0, "scale_min": 0.0, "scale_max": 4.0,
        "rater": "manager"}


def test_field_map_refuses_unknown_keys_and_bad_paths() -> None:
    with pytest.raises(ValueError, match="unknown review field mapping keys: employe_id"):
        ReviewFieldMap.from_dict({"employe_id": "x"})
    with pytest.raises(ValueError, match="malformed field path"):
        ReviewFieldMap(employee_id="data..id")


@pytest.mark.parametrize(("changes", "expected"), [
    ({"data__review_id": ...}, [("data.review_id", "is required")]),
    ({"data__employee__id": None, "data__employee__email": ...},
     [("data.employee.id", "is required (or data.employee.email)")]),
    ({"data__employee__id": "  ", "data__employee__email": " "},
     [("data.employee.id", "is required (or data.employee.email)")]),
    ({"data__employee__email": "Ann Lee"},
     [("data.employee.email", "email 'Ann Lee' is not an email address")]),
    ({"data__employee__email": ["x"]}, [("data.employee.email", "must be a string")]),
    ({"data__cycle": True}, [("data.cycle", "must be a string")]),
    ({"data__completed_at": "2026-03-01T10:00:00"},
     [("data.completed_at", "needs a time zone (for example 2026-03-01T10:00:00Z)")]),
    ({"data__completed_at": "yesterday"}, [("data.completed_at", "must be an ISO 8601 time")]),
    ({"data__completed_at": -1}, [("data.completed_at", "must be Unix seconds or an ISO 8601 "
                                                        "time")]),
    ({"data__ratings": {"a": 1}}, [("data.ratings", "must be a list")]),
    ({"data__ratings": ...}, [("data.ratings", "is required")]),
    ({"data__ratings__0__value": "high"}, [("data.ratings[0].value", "must be a number")]),
    ({"data__ratings__0__value": True}, [("data.ratings[0].value", "must be a number")]),
    ({"data__ratings__0__skill": ...}, [("data.ratings[0].skill", "is required")]),
    ({"data__ratings__1__label": ...}, [("data.ratings[1]", "needs a value or a label")]),
    ({"data__ratings__2": "KPI 12"}, [("data.ratings[2]", "must be an object")]),
    ({"data__review_id": ..., "data__ratings__0__scale_max": "x"},
     [("data.review_id", "is required"), ("data.ratings[0].scale_max", "must be a number")]),
])
def test_review_errors_name_each_field(changes: dict[str, Any],
                                       expected: list[tuple[str, str]]) -> None:
    with pytest.raises(PayloadError) as info:
        parse_review(_review(**changes), ReviewFieldMap(), source="hr")
    assert info.value.errors == expected


def test_review_must_be_an_object_and_ratings_are_capped() -> None:
    with pytest.raises(PayloadError, match=r"\$: must be a JSON object"):
        parse_review([REVIEW], ReviewFieldMap(), source="hr")
    many = _review(data__ratings=[{"skill": f"s{i}", "value": 1} for i in range(501)])
    with pytest.raises(PayloadError) as info:
        parse_review(many, ReviewFieldMap(), source="hr")
    assert info.value.errors == [("data.ratings", "must hold at most 500 items")]
    just_enough = _review(data__ratings=[{"skill": f"s{i}", "value": 1} for i in range(500)])
    parsed = parse_review(just_enough, ReviewFieldMap(), source="hr")
    assert isinstance(parsed, Review)
    assert len(parsed.ratings) == 500


def test_thin_review_needs_only_ids() -> None:
    thin = ReviewFieldMap(thin=True)
    doc = {"data": {"review_id": "r-9", "employee": {"id": "E1"}}}
    assert parse_review(doc, thin, source="hr") == ThinReview(review_id="r-9", employee_id="E1")
    with pytest.raises(PayloadError) as info:
        parse_review({"data": {"review_id": "r-9"}}, thin, source="hr")
    assert info.value.errors == [("data.employee.id", "is required (or data.employee.email)")]
    by_email = {"data": {"review_id": "r-9", "employee": {"email": " Ann@Example.com "}}}
    assert parse_review(by_email, thin, source="hr") == ThinReview(
        review_id="r-9", employee_id="ann@example.com")


@pytest.mark.parametrize(("employee", "key", "email"), [
    ({"email": " Ann.Lee@Example.COM "}, "ann.lee@example.com", "ann.lee@example.com"),
    ({"id": "", "email": "ann@example.com"}, "ann@example.com", "ann@example.com"),
    ({"id": 42, "email": "ANN@example.com"}, "42", "ann@example.com"),
    ({"id": "E7"}, "E7", None),
])
def test_review_names_the_person_by_id_email_or_both(
    employee: dict[str, Any], key: str, email: str | None
) -> None:
    """Email alone is enough: the lowercased email is the provisional key (shown "by email")."""
    review = parse_review(_review(data__employee=employee), ReviewFieldMap(), source="hr")
    assert isinstance(review, Review)
    assert (review.employee.employee_id, review.employee.email) == (key, email)
    assert review.employee.keyed_by_email is ("id" not in employee or not employee["id"])


def test_review_fingerprint_changes_with_ratings() -> None:
    a = parse_review(REVIEW, ReviewFieldMap(), source="hr")
    b = parse_review(_review(data__ratings__0__value=3), ReviewFieldMap(), source="hr")
    assert isinstance(a, Review) and isinstance(b, Review)
    assert a.fingerprint() != b.fingerprint()


# --- LMS completions ----------------------------------------------------------------------

COMPLETION: dict[str, Any] = {
    "type": "course.completed",
    "timestamp": "2026-03-10T09:00:00Z",
    "data": {"user_id": 7, "email": "ann@example.com", "course_id": "123",
             "completed_at": "2026-03-10T08:59:00+01:00", "score": 88,
             "certificate_url": "https://lms.example.com/cert/1",
             "expires_at": "2028-03-10T00:00:00Z", "course_name": "Negotiation 101"},
}


def test_lms_completion() -> None:
    event = parse_lms_completion(COMPLETION, source="lms", event_id="msg_1")
    assert event is not None
    assert event.model_dump(mode="json") == {
        "source": "lms", "event_id": "msg_1", "course_id": "123", "lms_user_id": "7",
        "email": "ann@example.com", "employee_id": None,
        "completed_at": "2026-03-10T07:59:00Z", "outcome": "passed", "score": 88.0,
        "certificate_url": "https://lms.example.com/cert/1",
        "expires_at": "2028-03-10T00:00:00Z", "course_name": "Negotiation 101", "voids": None,
    }


@pytest.mark.parametrize("learner", [
    {"user_email": " Ann@Example.com "},
    {"email": "ann@example.com", "user_email": "ANN@example.com"},
])
def test_lms_completion_names_the_learner_by_user_email(learner: dict[str, Any]) -> None:
    """TalentLMS sends the learner as `user_email`: read as the email, trimmed and lowercased."""
    data = {"course_id": "123", "completed_at": "2026-03-10T08:59:00Z", **learner}
    event = parse_lms_completion({"type": "course.completed", "data": data}, source="lms",
                                 event_id="m")
    assert event is not None
    assert (event.email, event.lms_user_id, event.employee_id) == ("ann@example.com", None, None)


def test_lms_failure_and_other_types() -> None:
    failed = parse_lms_completion({**COMPLETION, "type": "course.failed"}, source="lms",
                                  event_id="m")
    assert failed is not None and failed.outcome is Outcome.FAILED
    assert parse_lms_completion({**COMPLETION, "type": "course.enrolled"}, source="lms",
                                event_id="m") is None


@pytest.mark.parametrize(("doc", "expected"), [
    ({"data": {}}, [("type", "is required")]),
    ({"type": "course.completed"}, [("data", "must be an object")]),
    ({"type": "course.completed", "data": {"course_id": "1", "completed_at": 1772359200}},
     [("data", "needs user_id, email (or user_email) or employee_id")]),
    ({"type": "course.completed", "data": {"email": "a@b.c"}},
     [("data.course_id", "is required"), ("data.completed_at", "is required")]),
    ({"type": "course.completed", "data": {"email": "a@b.c", "course_id": "1",
                                           "completed_at": "2026-01-01T00:00:00Z",
                                           "score": "lots"}},
     [("data.score", "must be a number")]),
    ("course.completed", [("$", "must be a JSON object")]),
    ({"type": "course.completed", "data": {"user_email": "ann", "course_id": "1",
                                           "completed_at": "2026-01-01T00:00:00Z"}},
     [("data.user_email", "email 'ann' is not an email address")]),
    ({"type": "course.completed", "data": {"email": "a@b.co", "user_email": "c@d.co",
                                           "course_id": "1",
                                           "completed_at": "2026-01-01T00:00:00Z"}},
     [("data.user_email", "differs from data.email ('a@b.co'); send one email")]),
])
def test_lms_completion_errors(doc: Any, expected: list[tuple[str, str]]) -> None:
    with pytest.raises(PayloadError) as info:
        parse_lms_completion(doc, source="lms", event_id="m")
    assert info.value.errors == expected


# --- xAPI ---------------------------------------------------------------------------------

VERB = "http://adlnet.gov/expapi/verbs/"


def _statement(verb: str = "completed", **extra: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
        "actor": {"mbox": "mailto:ann@example.com", "name": "Ann"},
        "verb": {"id": VERB + verb},
        "object": {"id": "https://lms.example.com/course/123",
                   "definition": {"name": {"en-US": "Negotiation 101"}}},
        "result": {"score": {"scaled": 0.85, "raw": 17}, "success": True},
        "timestamp": "2026-03-10T08:00:00Z",
    }
    statement.update(extra)
    return statement


PREFIX = XapiOptions(course_prefix="https://lms.example.com/course/")


def test_xapi_single_statement() -> None:
    batch = parse_xapi(_statement(), source="xapi", options=PREFIX)
    assert batch.ignored == 0
    (event,) = batch.events
    assert event.event_id == "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"
    assert event.course_id == "123"
    assert event.email == "ann@example.com"
    assert event.score == pytest.approx(85.0)
    assert event.outcome is Outcome.PASSED
    assert event.course_name == "Negotiation 101"
    assert event.completed_at == datetime(2026, 3, 10, 8, tzinfo=UTC)


@pytest.mark.parametrize(("statement", "outcome", "score"), [
    (_statement("passed"), Outcome.PASSED, 85.0),
    (_statement("failed", result={"success": False, "score": {"raw": 4}}), Outcome.FAILED, 4.0),
    (_statement("completed", result={"success": False}), Outcome.FAILED, None),
    (_statement("completed", result={}), Outcome.PASSED, None),
])
def test_xapi_outcomes(statement: dict[str, Any], outcome: Outcome, score: float | None) -> None:
    (event,) = parse_xapi(statement, source="xapi").events
    assert event.outcome is outcome
    assert event.score == (pytest.approx(score) if score is not None else None)
    assert event.course_id == "https://lms.example.com/course/123"  # no prefix configured


def test_xapi_list_ignores_other_verbs_and_hashes_missing_ids() -> None:
    no_id = _statement()
    del no_id["id"]
    account = _statement(actor={"account": {"homePage": "https://lms", "name": "u-7"}},
                         id="s-2", stored="2026-03-10T09:00:00Z")
    del account["timestamp"]
    batch = parse_xapi([_statement("experienced"), no_id, account, _statement("attempted")],
                       source="xapi")
    assert batch.ignored == 2
    first, second = batch.events
    assert first.event_id.startswith("sha256:")
    assert parse_xapi([no_id], source="xapi").events[0].event_id == first.event_id  # stable
    assert (second.lms_user_id, second.email, second.event_id) == ("u-7", None, "s-2")
    assert second.completed_at == datetime(2026, 3, 10, 9, tzinfo=UTC)


@pytest.mark.parametrize(("doc", "expected"), [
    (_statement(actor={"name": "nobody"}), [("actor", "needs mbox or account.name")]),
    (_statement(actor={"mbox": "ann@example.com"}), [("actor.mbox", "must be a mailto: IRI")]),
    (_statement(object={}), [("object.id", "is required")]),
    (_statement(timestamp="noon"), [("timestamp", "must be an ISO 8601 time")]),
    ([_statement(), _statement(verb="bogus"), _statement(timestamp=None)],
     [("[2].timestamp", "is required (or stored)")]),
    ([_statement(), {"verb": {}}], [("[1].verb.id", "is required")]),
    ([_statement(), 7], [("[1]", "must be an xAPI statement object")]),
    ([_statement(object={"id": "https://lms.example.com/course/"})],
     [("[0].object.id", "is only the course prefix")]),
])
def test_xapi_errors(doc: Any, expected: list[tuple[str, str]]) -> None:
    with pytest.raises(PayloadError) as info:
        parse_xapi(doc, source="xapi", options=PREFIX)
    assert info.value.errors == expected


def test_xapi_statement_cap() -> None:
    with pytest.raises(PayloadError, match="at most 1000 statements"):
        parse_xapi([_statement()] * 1001, source="xapi")
    assert len(parse_xapi([_statement()] * 1000, source="xapi").events) == 1000


# --- BambooHR employees -------------------------------------------------------------------


def test_bamboohr_batch_accepts_action_and_type_keys() -> None:
    doc = {"employees": [
        {"id": "17", "action": "Updated", "timestamp": "2026-03-01T10:00:00+00:00",
         "fields": {"workEmail": "ann@example.com", "status": "Active"},
         "changedFields": ["workEmail"]},
        {"id": 18, "type": "employee.deleted", "fields": {}},
        {"id": "19", "action": "created"},
    ]}
    changes = parse_bamboohr_employees(doc)
    assert [(c.employee_id, c.action) for c in changes] == [
        ("17", "updated"), ("18", "deleted"), ("19", "created")]
    assert changes[0].fields == {"workEmail": "ann@example.com", "status": "Active"}
    assert changes[0].changed_fields == ("workEmail",)
    assert changes[0].to_payload()["changed_fields"] == ["workEmail"]
    ids = {c.event_id() for c in changes}
    assert len(ids) == 3
    assert changes[0].event_id() == parse_bamboohr_employees(doc)[0].event_id()  # stable


def test_bamboohr_single_event_shape() -> None:
    doc = {"type": "employee.updated", "timestamp": "2026-03-01T10:00:00Z",
           "data": {"companyId": 1, "employeeId": "17", "changedFields": ["jobTitle"]}}
    (change,) = parse_bamboohr_employees(doc)
    assert (change.employee_id, change.action, change.changed_fields) == (
        "17", "updated", ("jobTitle",))


@pytest.mark.parametrize(("doc", "expected"), [
    ({}, [("employees", "is required")]),
    ({"employees": "17"}, [("employees", "must be a list")]),
    ({"employees": [{"action": "Updated"}]}, [("employees[0].id", "is required")]),
    ({"employees": [{"id": "1", "action": "Promoted"}]},
     [("employees[0].action", "must be created, updated or deleted")]),
    ({"employees": [{"id": "1"}]}, [("employees[0].type", "is required")]),
    ({"employees": [{"id": "1", "action": "Updated", "fields": []}]},
     [("employees[0].fields", "must be an object")]),
    ({"employees": [{"id": "1", "action": "Updated", "changedFields": [1]}]},
     [("employees[0].changedFields", "must be a list of strings")]),
    ({"employees": [{"id": str(i), "action": "Updated"} for i in range(1001)]},
     [("employees", "must hold at most 1000 items")]),
    ({"type": "employee.hired", "data": {"employeeId": "1"}},
     [("type", "must be employee.created, employee.updated or employee.deleted")]),
    ({"type": "employee.updated", "data": {}}, [("data.employeeId", "is required")]),
])
def test_bamboohr_errors(doc: Any, expected: list[tuple[str, str]]) -> None:
    with pytest.raises(PayloadError) as info:
        parse_bamboohr_employees(doc)
    assert info.value.errors == expected


def test_payload_error_message_lists_paths() -> None:
    error = PayloadError([("a.b", "is required"), ("c", "must be a number")])
    assert str(error) == "a.b: is required; c: must be a number"
    assert json.dumps(error.errors)
