"""Review files: people by email, id or both; every bad row with its line; warnings; and the
JSON format being the `/webhooks/hr` body."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connector.errors import InputError
from connector.models import Review
from connector.reviews.file import rating_bounds, read_reviews
from mappings.loader import load_mapping_text
from webhooks.review_body import ReviewFieldMap, parse_review

MAPPING = load_mapping_text(
    '[labels]\n"Meets expectations" = 3\n[[skills]]\nid = "negotiation"\n', "m.toml"
)
BOUNDS = rating_bounds(MAPPING)
HEAD = "Review ID,Cycle,Completed On,Skill,Rating"


def write(tmp_path: Path, text: str, name: str = "reviews.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("header", [
    "Employee Email", "employee_email", "EmployeeEmail", "Work Email", "Email Address", "E-mail",
    "Email",
])
def test_an_email_column_alone_names_the_person(tmp_path: Path, header: str) -> None:
    text = f"{header},{HEAD}\n Ana.Lopez@Example.com ,R1,2026-H1,2026-03-01,Negotiation,2\n"
    file = read_reviews(write(tmp_path, text))
    (review,) = list(file)
    assert file.errors == [] and file.ignored_columns == []
    employee = review.employee
    assert (employee.employee_id, employee.email) == ("ana.lopez@example.com",) * 2
    assert employee.keyed_by_email


def test_id_and_email_together_keep_the_id_as_key(tmp_path: Path) -> None:
    text = f"Employee ID,Employee Email,{HEAD}\nE1,ANA@example.com,R1,2026-H1,2026-03-01,X,2\n"
    (review,) = list(read_reviews(write(tmp_path, text)))
    assert (review.employee.employee_id, review.employee.email) == ("E1", "ana@example.com")
    assert not review.employee.keyed_by_email


def test_rows_of_one_review_compare_emails_ignoring_case(tmp_path: Path) -> None:
    text = (f"Work Email,{HEAD}\nana@example.com,R1,H1,2026-03-01,A,2\n"
            "ANA@Example.com,R1,H1,2026-03-01,B,3\n")
    file = read_reviews(write(tmp_path, text))
    (review,) = list(file)
    assert file.errors == [] and [r.skill_key for r in review.ratings] == ["A", "B"]


def test_a_bad_email_is_a_row_error_and_the_rest_go_on(tmp_path: Path) -> None:
    text = (f"Email,{HEAD}\nAna Lopez,R1,H1,2026-03-01,A,2\nana@example,R2,H1,2026-03-01,A,2\n"
            "ben@example.com,R3,H1,2026-03-01,A,2\n,R4,H1,2026-03-01,A,2\n")
    file = read_reviews(write(tmp_path, text))
    assert [r.review_id for r in file] == ["R3"]
    assert [(e.row_number, e.reason) for e in file.errors] == [
        (2, "email 'Ana Lopez' is not an email address"),
        (3, "email 'ana@example' is not an email address"),
        (5, "no employee id or email: give one of them (or both)"),
    ]


def test_a_file_naming_nobody_is_refused_whole(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing column\(s\) employee_id or email"):
        list(read_reviews(write(tmp_path, f"Name,{HEAD}\nAna,R1,H1,2026-03-01,A,2\n")))


def test_columns_the_long_layout_ignores_are_named(tmp_path: Path) -> None:
    text = f"Email,Department,{HEAD},Location\nana@example.com,Sales,R1,H1,2026-03-01,A,2,Paris\n"
    file = read_reviews(write(tmp_path, text))
    list(file)
    assert file.ignored_columns == ["Department", "Location"]


@pytest.mark.parametrize(("value", "looks"), [
    ("ana@example.com", "email addresses"), ("Ana Lopez", "person names"),
])
def test_an_id_column_holding_emails_or_names_is_warned_about(
    tmp_path: Path, value: str, looks: str
) -> None:
    text = f"Employee,{HEAD}\nE1,R1,H1,2026-03-01,A,2\n{value},R2,H1,2026-03-01,A,2\n"
    file = read_reviews(write(tmp_path, text))
    assert len(list(file)) == 2 and file.errors == []
    (warning,) = file.warnings
    assert warning.row_number == 0
    assert f"column 'Employee' is read as the employee id but holds what look like {looks}" \
        in str(warning)
    assert f"line 3: {value!r}" in str(warning)


def test_ordinary_ids_are_not_warned_about(tmp_path: Path) -> None:
    text = f"Employee ID,{HEAD}\nE-1001,R1,H1,2026-03-01,A,2\n42,R2,H1,2026-03-01,A,2\n"
    file = read_reviews(write(tmp_path, text))
    list(file)
    assert file.warnings == []


LONG_BAD = f"""Employee ID,{HEAD},Scale Min,Scale Max,Rater
E1,R1,H1,2026-03-01,Negotiation,2,,,manager
E1,R1,H1,2026-03-01,Writing,9,,,manager
E1,R1,H1,2026-03-01,Typing,12,1,10,manager
E1,R1,H1,2026-03-01,Coding,7,1,10,manager
E1,R1,H1,2026-03-01,Listening,superb,,,manager
E1,R1,H1,2026-03-01,Listening,meets expectations,,,manager
E1,R1,H1,2026-03-01,negotiation,two,,,Manager
E2,R2,H1,2026-03-01,Negotiation,2,,,manager
E2,R2,H1,2026-03-01,Negotiation,2,,,manager
E2,R2,H1,2026-03-01,Negotiation,4,,,self
E3,R3,H1,2099-01-01,Negotiation,3,,,manager
"""


def test_every_bad_rating_is_a_row_error_with_its_line(tmp_path: Path) -> None:
    """Out of the mapping's scale, out of the row's own scale, text the mapping has no label
    for, and two different ratings of one skill by one rater (both lines named, both dropped);
    a repeat of the very same rating is harmless; a future date is a warning only."""
    file = read_reviews(write(tmp_path, LONG_BAD), bounds=BOUNDS)
    reviews = {r.review_id: r for r in file}
    assert [(e.row_number, e.reason) for e in file.errors] == [
        (3, "rating 9 is outside the mapping's scale 1-5 (add Scale Min/Scale Max columns for "
            "an export on another scale)"),
        (4, "rating 12 is outside its scale 1-10"),
        (6, "rating 'superb' is not a number, nor a label in the mapping's [labels]"),
        (8, "rating 'two' is not a number, nor a label in the mapping's [labels]"),
    ]
    assert [(r.skill_key, r.value, r.label) for r in reviews["R1"].ratings] == [
        ("Negotiation", 2, None), ("Coding", 7, None), ("Listening", None, "meets expectations"),
    ]
    assert [(r.value, r.rater) for r in reviews["R2"].ratings] == [(2, "manager"), (4, "self")]
    (future,) = file.warnings
    assert future.row_number == 12 and "review 'R3'" in future.reason
    assert "is in the future" in future.reason and "R3" in reviews


def test_conflicting_duplicates_name_both_lines_and_drop_both(tmp_path: Path) -> None:
    text = f"""Employee ID,{HEAD},Rater
E1,R1,H1,2026-03-01,Negotiation,2,manager
E1,R1,H1,2026-03-01,Writing,3,manager
E1,R1,H1,2026-03-01,negotiation ,Meets expectations,MANAGER
"""
    file = read_reviews(write(tmp_path, text))
    (review,) = list(file)
    assert [(e.row_number, e.reason) for e in file.errors] == [
        (4, "review 'R1': 'negotiation' rated by MANAGER is 'Meets expectations' at line 4 but 2 "
            "at line 2; keep one of the two"),
    ]
    assert [r.skill_key for r in review.ratings] == ["Writing"]


def test_wide_layout_checks_ratings_and_dates_too(tmp_path: Path) -> None:
    text = ("Email,Cycle,Completed On,Negotiation,Writing\n"
            "ana@example.com,H1,2026-03-01,2,7\nben@example.com,H1,2099-03-01,2,3\n")
    file = read_reviews(write(tmp_path, text), bounds=BOUNDS)
    assert [r.employee.employee_id for r in file] == ["ben@example.com"]
    assert [(e.row_number, e.reason) for e in file.errors] == [
        (2, "Writing: rating 7 is outside the mapping's scale 1-5 (add Scale Min/Scale Max "
            "columns for an export on another scale)"),
    ]
    assert [w.row_number for w in file.warnings] == [3]


# --- JSON: the /webhooks/hr body ----------------------------------------------------------

BODY: dict[str, Any] = {
    "type": "review.completed",
    "data": {
        "review_id": "r-1",
        "cycle": "2026-H1",
        "completed_at": "2026-03-01T10:00:00Z",
        "employee": {"email": " Ann.Lee@Example.com ", "first_name": "Ann", "last_name": "Lee",
                     "role": "Account Executive"},
        "ratings": [
            {"skill": "Negotiation", "value": 2, "scale_min": 1, "scale_max": 5,
             "rater": "manager", "comment": "needs practice"},
            {"skill": "Forecasting", "label": "Meets expectations", "rater": "self"},
        ],
    },
}


def test_one_document_is_accepted_by_the_file_reader_and_the_webhook(tmp_path: Path) -> None:
    """The JSON review-file format is the /webhooks/hr body: the same document read both ways
    gives the same review."""
    from_webhook = parse_review(BODY, ReviewFieldMap(), source="hr")
    for shape in ([BODY], {"reviews": [BODY]}, BODY):
        file = read_reviews(write(tmp_path, json.dumps(shape), "reviews.json"), source="hr",
                            bounds=BOUNDS)
        (from_file,) = list(file)
        assert file.errors == [] and file.warnings == []
        assert from_file == from_webhook
    assert isinstance(from_webhook, Review)
    assert from_webhook.employee.employee_id == "ann.lee@example.com"
    assert from_webhook.employee.keyed_by_email


def test_json_items_are_checked_like_rows(tmp_path: Path) -> None:
    def body(review_id: str, **data: Any) -> dict[str, Any]:
        return {"data": {**BODY["data"], "review_id": review_id, **data}}

    items = [
        body("r-1"),
        body("r-2", employee={"email": "nobody"}),
        body("r-3", ratings=[{"skill": "Negotiation", "value": 9}]),
        body("r-4", ratings=[{"skill": "Negotiation", "value": 2},
                             {"skill": "negotiation", "value": 3}]),
        body("r-5", completed_at="2099-01-01T00:00:00Z"),
        {"review_id": "r-6", "cycle": "H1", "completed_at": "2026-03-01T00:00:00Z",
         "employee": {"email": "old@example.com"}, "ratings": []},
    ]
    file = read_reviews(write(tmp_path, json.dumps(items), "reviews.json"), bounds=BOUNDS)
    reviews = {r.review_id: r for r in file}
    assert sorted(reviews) == ["r-1", "r-4", "r-5", "r-6"]
    assert reviews["r-4"].ratings == ()
    assert reviews["r-6"].employee.employee_id == "old@example.com"
    assert [(e.row_number, e.reason) for e in file.errors] == [
        (2, "data.employee.email: email 'nobody' is not an email address"),
        (3, "ratings[0]: rating 9 is outside the mapping's scale 1-5 (add Scale Min/Scale Max "
            "columns for an export on another scale)"),
        (4, "review 'r-4': 'negotiation' rated by manager is 3 at ratings[1] but 2 at ratings[0]; "
            "keep one of the two"),
    ]
    assert [w.row_number for w in file.warnings] == [5]
