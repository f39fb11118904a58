"""Rules have stable ids and versions, so goals follow their rule whatever its position."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.errors import ConfigError
from connector.models import Employee, Rating, Review
from mappings.gaps import find_gaps
from mappings.loader import load_mapping_text
from tests.unit.test_mapping_loader import BASE, rule


def test_a_rule_without_an_id_is_named_by_skill_and_courses() -> None:
    mapping = load_mapping_text(BASE + rule("", courses='["103", "104"]'), "m.toml")
    assert [r.rule_id for r in mapping.rules] == ["negotiation:101", "communication:103+104"]
    assert mapping.rule_by_id("communication:103+104") is mapping.rules[1]


def test_a_given_id_is_kept_and_a_duplicate_is_a_check_error() -> None:
    mapping = load_mapping_text(BASE + rule('id = "comms-basics"'), "m.toml")
    assert mapping.rules[1].rule_id == "comms-basics"
    with pytest.raises(ConfigError, match=r"rules\[1\]\.id.*'negotiation:101'.*rules\[0\]"):
        load_mapping_text(BASE + rule('id = "negotiation:101"'), "m.toml")


def test_reordering_rules_keeps_every_rule_id_and_version_but_not_the_positions() -> None:
    first = load_mapping_text(BASE + rule(""), "m.toml")
    swapped = load_mapping_text(BASE.split("[[rules]]")[0] + rule("") + rule(
        "", skill="negotiation", courses='["101"]'), "m.toml")
    assert swapped.rules[0].rule_id == first.rules[1].rule_id
    assert {r.rule_id: r.version for r in swapped.rules} == \
        {r.rule_id: r.version for r in first.rules}
    assert swapped.version != first.version  # the mapping as a whole did change


def test_an_edit_changes_that_rules_version_only() -> None:
    before = load_mapping_text(BASE + rule(""), "m.toml")
    after = load_mapping_text(BASE + rule("due_in_days = 10"), "m.toml")
    assert before.rules[0].version == after.rules[0].version
    assert before.rules[1].version != after.rules[1].version
    assert before.rules[1].rule_id == after.rules[1].rule_id


def test_rows_from_before_rule_ids_fall_back_to_the_position() -> None:
    mapping = load_mapping_text(BASE + rule(""), "m.toml")
    assert mapping.rule_by_id(None, 1) is mapping.rules[1]
    assert mapping.rule_by_id(None, 7) is None
    assert mapping.rule_by_id(None, None) is None
    assert mapping.rule_by_id("gone:1", 0) is None  # an id that is gone is not a position


def test_a_cause_records_the_rule_id_and_both_versions() -> None:
    mapping = load_mapping_text(BASE + rule(""), "m.toml")
    review = Review(review_id="R1", source="csv", cycle="2026H1",
                    employee=Employee(employee_id="E1"),
                    completed_at=datetime(2026, 3, 1, tzinfo=UTC),
                    ratings=(Rating(skill_key="Communication", value=1),))
    gaps, _ = find_gaps(review, mapping)
    cause = gaps[0].cause
    assert (cause.rule_id, cause.rule_version, cause.mapping_version) == (
        "communication:103", mapping.rules[1].version, mapping.version)
