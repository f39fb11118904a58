"""The mapping loader: a good file loads; each kind of mistake names the file, where and what."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.errors import ConfigError
from mappings.loader import format_location, load_mapping, load_mapping_text

EXAMPLE = Path(__file__).resolve().parents[2] / "mappings" / "example.toml"

BASE = """
[[skills]]
id = "negotiation"
aliases = ["Negotiation skills", "KPI 12"]

[[skills]]
id = "communication"
aliases = ["Communication"]

[[rules]]
skill = "negotiation"
courses = ["101"]
"""


def rule(extra: str, skill: str = "communication", courses: str = '["103"]') -> str:
    return f'\n[[rules]]\nskill = "{skill}"\ncourses = {courses}\n{extra}\n'


BAD_FILES = [
    pytest.param("[scale]\nmin = \n", ["bad.toml", "line 2, column 7", "TOML syntax"], id="syntax"),
    pytest.param(BASE + "\n[limits]\nmax_courses = 2\n", ["limits.max_courses", "unknown key"],
                 id="unknown-key"),
    pytest.param("colour = 'blue'\n" + BASE, ["colour", "unknown key"], id="unknown-top-key"),
    pytest.param(BASE + rule("", courses="[true]"),
                 ["rules[1].courses[0]", "course id as a string or an integer", "bool"],
                 id="course-wrong-type"),
    pytest.param(BASE + rule("", courses="[]"), ["rules[1].courses", "non-empty list"],
                 id="courses-empty"),
    pytest.param(BASE + '\n[[rules]]\nskill = "communication"\n', ["rules[1].courses", "missing"],
                 id="courses-missing"),
    pytest.param(BASE + rule("", skill="negotation"),
                 ["rules[1].skill", "unknown skill 'negotation'"], id="unknown-skill-in-rule"),
    pytest.param(BASE + rule('goal_title = "Improve {skil} now"'),
                 ["rules[1].goal_title", "unknown placeholder {skil}", "{skill}"],
                 id="bad-placeholder"),
    pytest.param(BASE + rule('goal_title = "Improve {gap:.1f}"'),
                 ["rules[1].goal_title", "no format"], id="placeholder-format"),
    pytest.param(BASE + rule('goal_title = "Improve {skill"'),
                 ["rules[1].goal_title", "malformed"], id="unbalanced-brace"),
    pytest.param(BASE.replace('["Communication"]', '["kpi-12"]'),
                 ["skills[1].aliases[0]", "already used by skill 'negotiation'"],
                 id="duplicate-alias"),
    pytest.param(BASE + '\n[[skills]]\nid = "negotiation"\n',
                 ["skills[2].id", "already used"], id="duplicate-skill-id"),
    pytest.param(BASE + rule('prior_completion = "accept_within_days"'),
                 ["rules[1]", "accept_within_days is required"], id="window-missing"),
    pytest.param(BASE + rule("accept_within_days = 30"),
                 ["rules[1]", "only applies"], id="window-without-mode"),
    pytest.param(BASE + rule('prior_completion = "sometimes"'),
                 ["rules[1].prior_completion", "'ignore', 'accept_within_days' or 'reset'"],
                 id="bad-prior-completion"),
    pytest.param(BASE + rule('min_gap = "1"'), ["rules[1].min_gap", "expected a valid number"],
                 id="min-gap-string"),
    pytest.param(BASE + rule("priority = 1.5"), ["rules[1].priority", "integer"],
                 id="priority-float"),
    pytest.param(BASE + rule("", skill="negotiation"),
                 ["rules[1].skill", "already has a rule (rules[0])"], id="two-rules-one-skill"),
    pytest.param(BASE + '\n[targets.roles."Account Executive"]\nhaggling = 4\n',
                 ["targets.roles.'Account Executive'.haggling", "unknown skill"],
                 id="unknown-skill-in-role"),
    pytest.param(BASE + "\n[targets]\ndefault = 9\n", ["targets.default", "outside the scale"],
                 id="target-outside-scale"),
    pytest.param(BASE + '\n[labels]\n"Meets" = 3\n"meets!" = 2\n', ["same label"],
                 id="duplicate-label"),
    pytest.param(BASE + "\n[scale]\nmin = 5\nmax = 1\n", ["scale", "below"], id="scale-reversed"),
    pytest.param(BASE + "\n[limits]\nmax_assignment_share = 1.5\n",
                 ["limits.max_assignment_share", "less than or equal to 1"], id="share-above-1"),
    pytest.param("protected = 'E1'\n" + BASE, ["protected", "valid list"], id="protected-not-list"),
]


@pytest.mark.parametrize(("text", "fragments"), BAD_FILES)
def test_bad_mapping_is_refused_with_a_precise_message(text: str, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_mapping_text(text, "bad.toml")
    message = str(caught.value)
    assert message.startswith("bad.toml:")
    for fragment in fragments:
        assert fragment in message, message


def test_every_problem_is_reported_at_once() -> None:
    text = BASE + rule("", courses="[1.5]") + "\n[limits]\nmax_courses = 2\n"
    with pytest.raises(ConfigError) as caught:
        load_mapping_text(text, "m.toml")
    message = str(caught.value)
    assert "2 problems" in message
    assert "rules[1].courses[0]" in message
    assert "limits.max_courses" in message


ONE_OF_EACH_KIND = BASE + """
[[rules]]
skill = "haggling"
courses = [true]
min_gap = -1

[labels]
"Meets" = 7
"Exceeds" = "five"

[targets]
default = 9

[targets.roles."Account Executive"]
negotiation = "high"

[targets.roles."Support Specialist"]
empathy = 4
"""


def test_type_errors_do_not_hide_range_or_reference_errors(tmp_path: Path) -> None:
    """One file with a type error, a range error and a reference error in the same rule, plus
    more of each kind elsewhere: one run names every one of them, each with its place."""
    path = tmp_path / "company.toml"
    path.write_text(ONE_OF_EACH_KIND, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_mapping(path)
    lines = str(caught.value).splitlines()
    assert lines[0] == f"{path}: 8 problems in the mapping:"
    expected = [
        "rules[1].courses[0]: expected a course id as a string or an integer, got bool",  # type
        "rules[1].min_gap: greater than 0",  # range (a field constraint)
        "labels.Exceeds: expected a valid number",  # type
        "targets.roles.'Account Executive'.negotiation: expected a valid number",  # type
        "labels.Meets: 7 is outside the scale 1-5",  # range (across sections)
        "targets.default: 9 is outside the scale 1-5",  # range (across sections)
        "targets.roles.'Support Specialist'.empathy: unknown skill 'empathy'",  # reference
        "rules[1].skill: unknown skill 'haggling'",  # reference, in the rule with a type error
    ]
    assert len(lines) == 1 + len(expected), lines
    by_place = {line.strip().split(": ")[0]: line for line in lines[1:]}
    for fragment in expected:
        place, *what = fragment.split(": ")
        assert place in by_place, (fragment, lines)
        assert all(part in by_place[place] for part in what), (by_place[place], fragment)


def test_a_broken_skill_entry_still_counts_for_references() -> None:
    """A skill entry with a type error is reported once; rules naming it are not also unknown."""
    text = BASE + '\n[[skills]]\nid = "empathy"\naliases = "Empathy"\n' + rule("", "empathy")
    with pytest.raises(ConfigError) as caught:
        load_mapping_text(text, "m.toml")
    message = str(caught.value)
    assert "1 problem in the mapping" in message
    assert "skills[2].aliases" in message and "unknown skill" not in message


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope\.toml: mapping file not found"):
        load_mapping(missing)
    broken = tmp_path / "broken.toml"
    broken.write_text("[[rules]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken.toml: line 1, column \d+"):
        load_mapping(broken)
    latin = tmp_path / "latin.toml"
    latin.write_bytes('[labels]\n"Tr\xe8s bien" = 4\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin\.toml: not UTF-8"):
        load_mapping(latin)


def test_example_mapping_loads_and_is_realistic() -> None:
    mapping = load_mapping(EXAMPLE)
    assert len(mapping.skills) == 8
    assert sorted(mapping.targets.roles) == [
        "Account Executive", "Software Engineer", "Support Specialist",
    ]
    assert mapping.label_value("meets expectations") == 3
    assert all(course.isdigit() for course in mapping.course_ids())


def test_integer_course_ids_become_strings_and_defaults_apply() -> None:
    mapping = load_mapping_text(BASE + rule("", courses="[103, \"X-9\"]"), "m.toml")
    second = mapping.rules[1]
    assert second.courses == ["103", "X-9"]
    assert (second.min_gap, second.priority, second.due_in_days) == (1, 0, 60)
    assert second.prior_completion == "ignore"
    assert mapping.limits.max_courses_per_review == 3
    assert mapping.approval.required is False


def test_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert load_mapping(path).rules[0].courses == ["101"]


def test_format_location() -> None:
    assert format_location(("rules", 3, "courses", 0)) == "rules[3].courses[0]"
    assert format_location(("limits", "max_assignment_share")) == "limits.max_assignment_share"
    assert format_location(()) == ""
