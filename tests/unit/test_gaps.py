"""The gap finder: rater precedence, normalisation, targets, min_gap and unmapped reasons."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.models import Employee, Rating, Review
from mappings.gaps import find_gaps
from mappings.loader import load_mapping_text
from mappings.schema import Mapping

TEXT = """
[raters]
precedence = ["calibrated", "manager", "self"]
[labels]
"Needs improvement" = 2
"Meets expectations" = 3
[targets]
default = 3
[targets.roles."Account Executive"]
negotiation = 4
[[skills]]
id = "negotiation"
aliases = ["Negotiation skills"]
[[skills]]
id = "communication"
[[skills]]
id = "leadership"
[[skills]]
id = "typing"
[[rules]]
skill = "negotiation"
courses = ["101"]
[[rules]]
skill = "communication"
courses = ["103"]
[[rules]]
skill = "leadership"
min_gap = 2
courses = ["113"]
"""


@pytest.fixture(scope="module")
def mapping() -> Mapping:
    return load_mapping_text(TEXT, "m.toml")


def review(*ratings: Rating, role: str | None = "Account Executive") -> Review:
    return Review(
        review_id="R1", source="csv", cycle="2026-H1",
        employee=Employee(employee_id="E1", role=role),
        completed_at=datetime(2026, 3, 1, tzinfo=UTC), ratings=ratings,
    )


def r(skill: str, value: float | None = None, **kw: object) -> Rating:
    return Rating(skill_key=skill, value=value, **kw)  # type: ignore[arg-type]


def test_role_target_and_full_cause(mapping: Mapping) -> None:
    gaps, unmapped = find_gaps(review(r("Negotiation skills", 2)), mapping)
    assert unmapped == []
    (gap,) = gaps
    assert (gap.skill_id, gap.rating, gap.target, gap.gap) == ("negotiation", 2, 4, 2)
    cause = gap.cause
    assert cause.rating_key == "Negotiation skills"
    assert cause.rating_raw == "2"
    assert (cause.review_id, cause.source, cause.cycle) == ("R1", "csv", "2026-H1")
    assert (cause.rater, cause.rule_index, cause.target, cause.gap) == ("manager", 0, 4, 2)


def test_default_target_without_role(mapping: Mapping) -> None:
    gaps, _ = find_gaps(review(r("negotiation", 2), role=None), mapping)
    assert [g.target for g in gaps] == [3]


def test_highest_precedence_rater_wins_and_ties_take_the_latest(mapping: Mapping) -> None:
    ratings = (
        r("communication", 5, rater="self"),
        r("communication", 1, rater="manager"),
        r("communication", 2, rater="manager"),
        r("communication", 4, rater="peer"),  # not in precedence: ranks last
    )
    gaps, _ = find_gaps(review(*ratings), mapping)
    assert [(g.rating, g.cause.rater) for g in gaps] == [(2, "manager")]
    calibrated = (*ratings, r("communication", 3, rater="calibrated"))
    assert find_gaps(review(*calibrated), mapping)[0] == []


def test_unknown_rater_only_still_counts(mapping: Mapping) -> None:
    gaps, _ = find_gaps(review(r("communication", 1, rater="peer")), mapping)
    assert [g.rating for g in gaps] == [1]


@pytest.mark.parametrize(
    ("value", "smin", "smax", "rating", "raw"),
    [(2, 1, 5, 2, "2 of 1-5"), (1, 1, 10, 1, "1 of 1-10"), (10, 1, 10, 5, "10 of 1-10"),
     (25, 0, 100, 2, "25 of 0-100"), (4, 1, 7, 3, "4 of 1-7")],
)
def test_source_scale_is_normalised(
    mapping: Mapping, value: float, smin: float, smax: float, rating: float, raw: str
) -> None:
    rated = r("communication", value, scale_min=smin, scale_max=smax)
    gaps, unmapped = find_gaps(review(rated), mapping)
    if rating >= 3:
        assert gaps == [] and unmapped == []
    else:
        assert [(g.rating, g.cause.rating_raw) for g in gaps] == [(rating, raw)]


def test_labels_map_to_numbers(mapping: Mapping) -> None:
    gaps, _ = find_gaps(review(r("communication", label="needs improvement")), mapping)
    assert [(g.rating, g.cause.rating_raw) for g in gaps] == [(2, "needs improvement")]


@pytest.mark.parametrize(
    ("rating", "reason"),
    [
        (r("communication", label="Superb"), "rating label 'Superb' is not in [labels]"),
        (r("communication"), "neither a value nor a label"),
        (r("communication", 7), "outside the mapping scale 1-5"),
        (r("communication", 11, scale_min=1, scale_max=10), "outside its own scale"),
        (r("communication", 2, scale_min=5, scale_max=5), "empty or reversed"),
        (r("Public speaking", 1), "unknown skill"),
        (r("typing", 1), "no rule"),
    ],
)
def test_unmapped_reasons(mapping: Mapping, rating: Rating, reason: str) -> None:
    gaps, unmapped = find_gaps(review(rating), mapping)
    assert gaps == []
    assert [u.skill_key for u in unmapped] == [rating.skill_key]
    assert reason in unmapped[0].reason
    assert unmapped[0].review_id == "R1" and unmapped[0].employee_id == "E1"


def test_each_unmapped_entry_names_its_own_rating(mapping: Mapping) -> None:
    # Several ratings in one review: a reason is never reported under another skill's name.
    gaps, unmapped = find_gaps(review(r("typing", 1), r("communication", 2),
                                      r("leadership", label="Superb")), mapping)
    assert [g.skill_id for g in gaps] == ["communication"]
    assert [(u.skill_key, u.reason.split(":")[0]) for u in unmapped] == [
        ("leadership", "rating label 'Superb' is not in [labels]"),
        ("typing", "no rule"),
    ]


def test_unknown_skill_reported_once(mapping: Mapping) -> None:
    _, unmapped = find_gaps(review(r("Zen", 1), r("Zen", 2, rater="self")), mapping)
    assert len(unmapped) == 1


def test_min_gap_and_met_targets(mapping: Mapping) -> None:
    # leadership needs a gap of 2: 2 → 3 is not enough, 1 → 3 is.
    assert find_gaps(review(r("leadership", 2)), mapping) == ([], [])
    assert [g.gap for g in find_gaps(review(r("leadership", 1)), mapping)[0]] == [2]
    # A met or exceeded target is neither a gap nor unmapped, even without a rule.
    assert find_gaps(review(r("typing", 3), r("communication", 5)), mapping) == ([], [])


def test_float_noise_does_not_hide_a_gap(mapping: Mapping) -> None:
    # 3 - 2.0000000001 is 0.9999999999 in floats: still the gap of 1 the admin means.
    rated = r("communication", 2.0000000001)
    assert [g.gap for g in find_gaps(review(rated), mapping)[0]] == [1]
    # 3 of 1-7 is 2.33 on 1-5: a gap of 0.67, below min_gap 1.
    assert find_gaps(review(r("communication", 3, scale_min=1, scale_max=7)), mapping) == ([], [])


def test_gaps_are_sorted_by_skill(mapping: Mapping) -> None:
    gaps, _ = find_gaps(review(r("negotiation", 1), r("communication", 1)), mapping)
    assert [g.skill_id for g in gaps] == ["communication", "negotiation"]


def test_one_rating_object_in_reviews_of_different_roles(mapping: Mapping) -> None:
    # Review files hand out one shared Rating object per distinct row; what the gap finder
    # remembers about it must not carry one review's role over to another.
    shared = r("negotiation", 3)
    executive = find_gaps(review(shared), mapping)[0]
    assert [(g.target, g.gap) for g in executive] == [(4, 1)]
    assert find_gaps(review(shared, role=None), mapping) == ([], [])
    assert [g.gap for g in find_gaps(review(shared), mapping)[0]] == [1]


def test_equal_ratings_from_separate_objects_agree(mapping: Mapping) -> None:
    for _ in range(3):
        gaps, unmapped = find_gaps(review(r("communication", 2), r("Zen", 1)), mapping)
        assert [(g.skill_id, g.gap) for g in gaps] == [("communication", 1)]
        assert [u.reason for u in unmapped] == ["unknown skill"]


def test_what_is_remembered_per_role_is_bounded_by_the_mappings_roles(mapping: Mapping) -> None:
    # Free-text job titles without targets of their own all share the default targets, so
    # a shared rating is judged once for all of them, not once per title.
    shared = r("communication", 2)
    for n in range(50):
        assert [g.gap for g in find_gaps(review(shared, role=f"Title {n}"), mapping)[0]] == [1]
    assert len(mapping.index.rating_facts[id(shared)][4]) == 1


def test_name_memos_stay_bounded() -> None:
    from mappings.schema import MEMO_LIMIT, remember

    memo: dict[int, int] = {}
    for n in range(MEMO_LIMIT + 10):
        remember(memo, n, n)
    assert len(memo) == 10 and memo[MEMO_LIMIT + 9] == MEMO_LIMIT + 9
