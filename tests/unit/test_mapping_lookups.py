"""Lookups the gap finder relies on: name matching, rater precedence, targets, rules."""

from __future__ import annotations

import pytest

from mappings.loader import load_mapping_text
from mappings.schema import Mapping, normalise_name

TEXT = """
protected = ["E9"]
[raters]
precedence = ["Calibrated", "manager"]
[labels]
"Meets expectations" = 3
[targets]
default = 3
[targets.roles."Account Executive"]
"KPI 12" = 4
[[skills]]
id = "negotiation"
aliases = ["Negotiation skills", "KPI 12"]
[[skills]]
id = "communication"
[[rules]]
skill = "kpi12"
courses = ["101"]
"""


@pytest.fixture(scope="module")
def mapping() -> Mapping:
    return load_mapping_text(TEXT, "m.toml")


@pytest.mark.parametrize(
    "name", ["negotiation", "NEGOTIATION", "Negotiation Skills", "negotiation-skills", "kpi 12",
             "KPI_12", " K.P.I. 12 "],
)
def test_aliases_match_ignoring_case_spacing_and_punctuation(mapping: Mapping, name: str) -> None:
    assert mapping.skill_id_for(name) == "negotiation"


def test_unknown_names(mapping: Mapping) -> None:
    assert mapping.skill_id_for("KPI 13") is None
    assert not mapping.is_known_skill("Negotiations")
    assert mapping.label_value("meets-expectations") == 3
    assert mapping.label_value("Exceeds") is None


def test_rater_rank_unknown_last(mapping: Mapping) -> None:
    assert mapping.rater_rank("calibrated") == 0
    assert mapping.rater_rank("Manager") == 1
    assert mapping.rater_rank("self") == mapping.rater_rank("peer") == 2


def test_targets_by_role_then_default(mapping: Mapping) -> None:
    assert mapping.target_for("account executive", "negotiation") == 4
    assert mapping.target_for("Account Executive", "communication") == 3
    assert mapping.target_for(None, "negotiation") == 3
    assert mapping.target_for("Engineer", "negotiation") == 3


def test_rule_lookup_by_alias_and_protected(mapping: Mapping) -> None:
    found = mapping.rule_for("negotiation")
    assert found is not None and found[0] == 0
    assert mapping.rule_for("communication") is None
    assert mapping.is_protected("E9") and not mapping.is_protected("E1")


def test_normalise_name() -> None:
    assert normalise_name("Written & Verbal — Communication!") == "writtenverbalcommunication"
    assert normalise_name("Éclat 2") == "éclat2"
