"""What `connector status` says about the goal tracker's ids, for each configuration, and the
person handed to a tracker: its own ids, a manager without one left out (pure)."""

from __future__ import annotations

import pytest

from connector.id_spaces import IdSpaces, Resolution
from connector.models import Employee


def test_with_the_trackers_directory_ids_are_matched_by_email() -> None:
    text = IdSpaces(match_by="email", directory="bamboohr").describe(["orangehrm"], "bamboohr")
    assert text == ("BambooHR ids from its directory, matched by email; no match waits in "
                    "`connector identities pending`")


def test_without_a_directory_status_says_what_is_used_instead() -> None:
    text = IdSpaces(match_by="email", directory=None).describe(["orangehrm"], "bamboohr")
    assert "no directory for BambooHR" in text
    assert "CONNECTOR_DIRECTORY=bamboohr" in text and "CONNECTOR_IDENTITY_MATCH_BY=id" in text
    same = IdSpaces(match_by="email", directory=None).describe(["orangehrm"], "orangehrm")
    assert same == "the review source is OrangeHRM itself: its own ids are used"
    told = IdSpaces(match_by="id").describe(["csv"], "bamboohr")
    assert "used in BambooHR as they are" in told


def test_the_tracker_gets_its_own_ids_and_never_a_guessed_manager() -> None:
    ann = Employee(employee_id="101", email="ann@example.com", manager_id="109")
    assert Resolution("5001", "5009").employee(ann).model_dump() == {
        **ann.model_dump(), "employee_id": "5001", "manager_id": "5009"}
    assert Resolution("5001", None).employee(ann).manager_id is None
    with pytest.raises(ValueError):
        Resolution(None, reason="no match").employee(ann)
