"""Review files: long and wide CSV, header aliases, delimiters, BOM, JSON, and row errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.errors import InputError
from connector.reviews.file import read_reviews
from connector.reviews.rows import parse_when

LONG = (
    "Employee ID,Email Address,First Name,Last Name,Job Title,Review ID,Cycle,Completed On,"
    "Competency,Score,Scale Min,Scale Max,Rater,Comment\n"
    "E1,ana@example.com,Ana,Lopez,Account Executive,R1,2026-H1,2026-03-01,Negotiation,2,1,5,"
    "manager,needs practice\n"
) + """E1,ana@example.com,Ana,Lopez,Account Executive,R1,2026-H1,2026-03-01,Negotiation,4,1,5,self,
E1,,,,,R1,2026-H1,2026-03-01,Communication,Meets expectations,,,,
E2,ben@example.com,Ben,Okafor,Software Engineer,R2,2026-H1,2026-03-02T10:00:00+02:00,KPI 7,7,1,10,,
"""


def write(tmp_path: Path, text: str, name: str = "reviews.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def test_long_form_groups_rows_into_reviews(tmp_path: Path) -> None:
    file = read_reviews(write(tmp_path, LONG), source="hr-export")
    reviews = list(file)
    assert file.errors == [] and file.layout == "long"
    first, second = reviews
    assert (first.review_id, first.source, first.cycle) == ("R1", "hr-export", "2026-H1")
    assert first.employee.email == "ana@example.com" and first.employee.role == "Account Executive"
    assert first.completed_at == datetime(2026, 3, 1, tzinfo=UTC)
    assert [(r.skill_key, r.value, r.label, r.rater) for r in first.ratings] == [
        ("Negotiation", 2, None, "manager"),
        ("Negotiation", 4, None, "self"),
        ("Communication", None, "Meets expectations", "manager"),
    ]
    assert first.ratings[0].comment == "needs practice"
    assert (first.ratings[0].scale_min, first.ratings[0].scale_max) == (1, 5)
    assert second.completed_at == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert second.ratings[0].value == 7 and second.ratings[0].scale_max == 10


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("bom", [False, True])
def test_delimiters_and_bom(tmp_path: Path, delimiter: str, bom: bool) -> None:
    text = LONG.replace(",", delimiter)
    reviews = list(read_reviews(write(tmp_path, text, bom=bom)))
    assert [r.review_id for r in reviews] == ["R1", "R2"]
    assert reviews[0].employee.employee_id == "E1"


def test_header_aliases() -> None:
    from connector.reviews.csv_file import canonical_header

    assert canonical_header("emp_id") == canonical_header("Employee") == "employee_id"
    assert canonical_header("E-mail") == "email"
    assert canonical_header("KPI") == canonical_header("Competency") == "skill"
    assert canonical_header("Rating") == canonical_header("SCORE") == "rating"
    assert canonical_header("Department") is None


def test_bad_rows_are_reported_and_good_rows_go_on(tmp_path: Path) -> None:
    text = """employee_id,review_id,cycle,completed_at,skill,rating,scale_min,scale_max
E1,R1,2026-H1,2026-03-01,Negotiation,2,,
,R1,2026-H1,2026-03-01,Negotiation,2,,
E1,R1,2026-H1,2026-03-01,,2,,
E1,R1,2026-H1,2026-03-01,Writing,2,five,
E1,R1,2026-H1,2026-03-01,Writing,2,5,1
E2,R1,2026-H1,2026-03-01,Writing,2,,
E3,R3,2026-H1,03/01/2026,Writing,2,,
E3,R4,2026-H1,2026-03-01T10:00:00,Writing,2,,
E5,R5,2026-H1,2026-03-01,Writing,3,,
E1,R1,2026-H1,2026-03-01,Typing,2,,

E6,R6,2026-H1,2026-03-01,Writing,2,,,,extra
E7,R7,2026-H1,2026-03-01,Writing,,,
"""
    file = read_reviews(write(tmp_path, text))
    reviews = list(file)
    assert [r.review_id for r in reviews] == ["R1", "R5", "R7"]
    assert [r.skill_key for r in reviews[0].ratings] == ["Negotiation"]
    assert reviews[2].ratings == ()  # a blank rating is "not rated"
    found = [(e.row_number, e.reason) for e in file.errors]
    expected = [
        (3, "no employee id or email: give one of them (or both)"),
        (4, "skill is empty"),
        (5, "scale_min 'five' is not a number"),
        (6, "scale_min 5 must be below scale_max 1"),
        (7, "review 'R1': employee_id 'E2' differs from 'E1' on line 2"),
        (8, "completed_at '03/01/2026': expected an ISO 8601 date"),
        (9, "completed_at '2026-03-01T10:00:00': a time needs a zone"),
        (11, "review 'R1': its rows must be consecutive (earlier rows end at line 2)"),
        (13, "10 cells but the header has 8 columns"),
    ]
    assert len(found) == len(expected)
    for (line, reason), (want_line, want) in zip(found, expected, strict=True):
        assert line == want_line and reason.startswith(want), (line, reason)
    assert str(file.errors[0]).endswith("reviews.csv:3: no employee id or email: give one of "
                                        "them (or both)")


def test_repeated_bad_rows_are_each_reported(tmp_path: Path) -> None:
    # Rows with the same rating cells are read once and remembered, but only good ones: the
    # same bad cells on several lines are a rejected row each time.
    text = """employee_id,review_id,cycle,completed_at,skill,rating,scale_min,scale_max
E1,R1,2026-H1,2026-03-01,Writing,2,5,1
E1,R1,2026-H1,2026-03-01,Writing,2,5,1
E1,R1,2026-H1,2026-03-01,Typing,2,,
E1,R1,2026-H1,2026-03-01,Writing,2,5,1
E2,R2,2026-H1,2026-03-01,Writing,2,5,1
E2,R2,2026-H1,2026-03-01,Typing,2,,
E1,R1,2026-H1,2026-03-01,Typing,2,,
"""
    file = read_reviews(write(tmp_path, text))
    reviews = list(file)
    assert [(r.review_id, [x.skill_key for x in r.ratings]) for r in reviews] == [
        ("R1", ["Typing"]), ("R2", ["Typing"]),
    ]
    # The same good cells give equal ratings in both reviews.
    assert reviews[0].ratings == reviews[1].ratings
    assert [(e.row_number, e.reason) for e in file.errors] == [
        (2, "scale_min 5 must be below scale_max 1"),
        (3, "scale_min 5 must be below scale_max 1"),
        (5, "scale_min 5 must be below scale_max 1"),
        (6, "scale_min 5 must be below scale_max 1"),
        # R1 last grew on line 5's predecessor: line 4 (line 5 was rejected).
        (8, "review 'R1': its rows must be consecutive (earlier rows end at line 4)"),
    ]


def test_a_review_whose_only_row_was_rejected_ends_on_its_first_line(tmp_path: Path) -> None:
    text = """employee_id,review_id,cycle,completed_at,skill,rating,scale_min
E1,R1,2026-H1,2026-03-01,Writing,2,x
E2,R2,2026-H1,2026-03-01,Writing,2,
E1,R1,2026-H1,2026-03-01,Typing,2,
"""
    file = read_reviews(write(tmp_path, text))
    assert [r.review_id for r in file] == ["R1", "R2"]
    assert [(e.row_number, e.reason) for e in file.errors] == [
        (2, "scale_min 'x' is not a number"),
        (4, "review 'R1': its rows must be consecutive (earlier rows end at line 2)"),
    ]


def test_wide_form_with_skill_matcher(tmp_path: Path) -> None:
    text = """Employee;Cycle;Review date;Department;Negotiation;KPI 7;Rater
E1;2026-H1;2026-03-01;Sales;2;Meets expectations;calibrated
E2;2026-H1;2026-03-02;Sales;;4;
"""
    known = {"negotiation", "kpi 7"}
    file = read_reviews(write(tmp_path, text), skill_matcher=lambda n: n.lower() in known)
    reviews = list(file)
    assert file.layout == "wide" and file.ignored_columns == ["Department"]
    assert [r.review_id for r in reviews] == ["E1/2026-H1", "E2/2026-H1"]
    assert [(r.skill_key, r.value, r.label, r.rater) for r in reviews[0].ratings] == [
        ("Negotiation", 2, None, "calibrated"), ("KPI 7", None, "Meets expectations", "calibrated"),
    ]
    assert [(r.skill_key, r.value) for r in reviews[1].ratings] == [("KPI 7", 4)]
    # Without a matcher every unknown column is a skill (and shows up as unmapped later).
    everything = list(read_reviews(write(tmp_path, text)))
    assert [r.skill_key for r in everything[0].ratings] == ["Department", "Negotiation", "KPI 7"]


def test_wide_form_duplicate_review(tmp_path: Path) -> None:
    text = "employee_id,cycle,completed_at,Negotiation\nE1,H1,2026-03-01,2\nE1,H1,2026-03-01,3\n"
    file = read_reviews(write(tmp_path, text))
    assert len(list(file)) == 1
    assert [(e.row_number, e.reason) for e in file.errors] == [
        (3, "review 'E1/H1' already appeared on line 2"),
    ]


def test_json_reviews(tmp_path: Path) -> None:
    items = [
        {"review_id": "R1", "cycle": "2026-H1", "completed_at": "2026-03-01T00:00:00Z",
         "employee": {"employee_id": "E1"},
         "ratings": [{"skill_key": "Negotiation", "value": 2}]},
        {"review_id": "R2", "cycle": "2026-H1", "completed_at": "2026-03-01T00:00:00",
         "employee": {"employee_id": "E2"}},
        {"review_id": "R3", "source": "orangehrm", "cycle": "2026-H1",
         "completed_at": "2026-03-01T00:00:00Z", "employee": {"employee_id": "E3"}},
    ]
    path = write(tmp_path, json.dumps(items), name="reviews.json")
    file = read_reviews(path, source="import")
    reviews = list(file)
    assert [(r.review_id, r.source) for r in reviews] == [("R1", "import"), ("R3", "orangehrm")]
    assert [(e.row_number, e.reason.split(":")[0]) for e in file.errors] == [(2, "completed_at")]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", b'[{"review_id": ', "line 1, column 16: invalid JSON"),
        ("obj.json", b'{"a": 1}', "expected a JSON list"),
        ("empty.csv", b"", "the file is empty"),
        ("latin.csv", "employee_id,cycle,completed_at,Négociation\n".encode("latin-1"),
         "not UTF-8"),
        ("nocycle.csv", b"employee_id,completed_at,skill,rating\nE1,2026-03-01,x,1\n",
         "missing column(s) cycle"),
        ("noskill.csv", b"employee_id,cycle,completed_at\nE1,H1,2026-03-01\n", "no skill columns"),
        ("twice.csv", b"employee_id,emp_id,cycle,completed_at,x\n", "both mean employee_id"),
    ],
)
def test_unreadable_files_raise_input_error(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        list(read_reviews(path))
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.csv: review file not found"):
        read_reviews(tmp_path / "nope.csv")


def test_stopping_early_closes_the_file(tmp_path: Path) -> None:
    with read_reviews(write(tmp_path, LONG)) as file:
        assert next(file).review_id == "R1"
    with pytest.raises(StopIteration):
        next(file)


def test_parse_when() -> None:
    assert parse_when("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_when("2026-03-01T10:00:00Z") == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert parse_when("2026-03-01 10:00:00-05:00") == datetime(2026, 3, 1, 15, tzinfo=UTC)
    with pytest.raises(ValueError, match="zone"):
        parse_when("2026-03-01T10:00")
