"""How erasure rewrites text: the person's ids, email and names become their pseudonym, and
nothing else does (a course numbered like the employee, another Ann in someone else's row)."""

from __future__ import annotations

import json

import pytest

from connector.operations.erase import Pseudonymiser, tombstone_keys

P = "erased-abc"


@pytest.fixture
def cleo() -> Pseudonymiser:
    return Pseudonymiser(P, ids=["103", "5003", "E-1003"], emails=["Cleo.Park2@example.com"],
                         full_names=["Cleo Park", "Park, Cleo"], names=["Cleo", "Park"])


@pytest.mark.parametrize(("field", "value", "owned", "expected"), [
    # Their own rows: the key shapes that carry an employee id, never the course beside it.
    ("key", "enroll:103:104:103/communication/2026-H1", True,
     f"enroll:{P}:104:{P}/communication/2026-H1"),
    ("key", "enroll:103:103:103/communication/2026-H1", True,
     f"enroll:{P}:103:{P}/communication/2026-H1"),
    ("ref", "learner:103", True, f"learner:{P}"),
    ("message", "assign course 103 for goal 103/communication/2026-H1", True,
     f"assign course 103 for goal {P}/communication/2026-H1"),
    ("message", "Hello Cleo, welcome", True, "Hello erased-name, welcome"),
    # Someone else's rows: only what names this person for sure.
    ("ref", "enroll:106:103:106/communication/2026-H1", False,
     "enroll:106:103:106/communication/2026-H1"),
    ("manager_id", "103", False, P),
    ("course_id", "103", False, "103"),
    ("message", "Cleo Park and Ann Cleo left", False, f"{P} and Ann Cleo left"),
    ("message", "mail CLEO.PARK2@example.com now", False, f"mail {P}@erased.invalid now"),
    ("message", "E-1003 moved", False, f"{P} moved"),
    ("message", "E-10030 moved", False, "E-10030 moved"),
])
def test_text(cleo: Pseudonymiser, field: str, value: str, owned: bool, expected: str) -> None:
    assert cleo.scrub(field, value, owned) == expected


def test_json_objects_that_name_the_person_lose_their_names_too(cleo: Pseudonymiser) -> None:
    batch = json.dumps({"reviews": [
        {"employee": {"employee_id": "103", "first_name": "Cleo", "last_name": "Park"},
         "ratings": [{"course_id": "103", "rating": 2}]},
        {"employee": {"employee_id": "106", "first_name": "Cleo", "last_name": "Gray",
                      "manager_id": 103}}]})
    out = json.loads(cleo.scrub("payload", batch, False))
    first, other = out["reviews"]
    assert first["employee"] == {"employee_id": P, "first_name": "erased-name",
                                 "last_name": "erased-name"}
    assert first["ratings"] == [{"course_id": "103", "rating": 2}]
    assert other["employee"] == {"employee_id": "106", "first_name": "Cleo",
                                 "last_name": "Gray", "manager_id": P}


def test_unchanged_values_are_returned_as_they_were(cleo: Pseudonymiser) -> None:
    text = '{"b": 1,  "a": "nothing here"}'
    assert cleo.scrub("payload", text, True) is text
    assert cleo.scrub("raw", None, True) is None


def test_tombstone_keys_are_hashes_that_ignore_case_and_never_hold_the_value() -> None:
    keys = tombstone_keys(employee_id="103", email="Cleo.Park2@Example.com",
                          external=[("bamboohr", "5003")])
    assert keys == tombstone_keys(employee_id=103, email="cleo.park2@example.com ",
                                  external=[("bamboohr", "5003")])
    assert all(len(k) == 64 and "cleo" not in k for k in keys)
    assert len(set(keys)) == 3


def test_the_tombstone_check_runs_inside_the_callers_transaction(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A safety stop's confirm queues its reviews in one transaction; the tombstone check of
    each must use it. On SQLite a second transaction from the same thread waits for the
    first and ends 'database is locked' (the demo's confirm did, before)."""
    from connector.operations.erase import dropped_as_erased
    from connector.store import Store

    store = Store.open(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        with store.transaction() as tx:
            store.audit(tx, "E1", "test.write", "the caller holds the write lock")
            assert not dropped_as_erased(store, "a review", tx=tx, employee_id="E1")
    finally:
        store.close()
