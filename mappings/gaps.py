"""The gap finder: which skills in one review fall short of their target, and why.

Pure: a function of (review, mapping) only. Every rated skill ends up in exactly one place: a
`SkillGap` (big enough and covered by a rule), an `Unmapped` entry (something the mapping cannot
place, shown to the admin rather than dropped), or nowhere because it meets its target.
"""

from __future__ import annotations

from typing import Any

from connector.models import Cause, Rating, Review, SkillGap, Unmapped
from mappings.schema import MEMO_LIMIT, Mapping, MappingIndex, Rule, remember
from mappings.trusted import trusted_maker

# Ratings are rounded after normalisation so that 3 - 1.9999999999 counts as a gap of 1.
_PRECISION = 6

_cause = trusted_maker(Cause)
_skill_gap = trusted_maker(SkillGap)
_unmapped_entry = trusted_maker(Unmapped)

#: What one rating means for one role's targets: None (no gap worth a course), why it cannot
#: be placed, or (value, raw, target, gap, rule index, rule).
_Verdict = tuple[float, str, float, float, int, Rule] | str | None

#: What the gap finder knows about one rating whatever the review: its skill id (None when
#: unknown), its rater's rank, where it lands on the mapping's scale, and its verdicts so far
#: (id(role levels) → (those levels, the verdict)).
_RatingFacts = tuple[
    Rating, str | None, int, tuple[float, str] | str,
    dict[int, tuple[dict[str, float], _Verdict]],
]


def find_gaps(review: Review, mapping: Mapping) -> tuple[list[SkillGap], list[Unmapped]]:
    """Gaps (sorted by skill id) and unmapped ratings (in the order they were rated)."""
    gaps, _ranked, unmapped = gaps_for_planning(review, mapping.index)
    return gaps, unmapped


#: A gap as the planner takes them: (-rule priority, -gap, skill id, rule index, rule, gap).
#: Sorting these puts the highest priority first, then the biggest gap, then by skill id (ids
#: are unique within a review, so the comparison never reaches the rule).
RankedGap = tuple[int, float, str, int, Rule, SkillGap]


def gaps_for_planning(
    review: Review, index: MappingIndex
) -> tuple[list[SkillGap], list[RankedGap], list[Unmapped]]:
    """`find_gaps`, plus each gap with its rule, ready to sort into planning order: the
    planner's entry point, so that it looks nothing up twice."""
    employee = review.employee
    unmapped: list[Unmapped] = []
    unknown_seen: set[str] | None = None
    chosen: dict[str, _RatingFacts] = {}  # skill id → the rating that counts
    memo = index.rating_facts
    for rating in review.ratings:
        facts = memo.get(id(rating))
        if facts is None or facts[0] is not rating:
            facts = _facts(rating, index, memo)
        skill_id = facts[1]
        if skill_id is None:
            key = rating.skill_key
            if unknown_seen is None:
                unknown_seen = set()
            if key not in unknown_seen:
                unknown_seen.add(key)
                unmapped.append(_unmapped(review, key, "unknown skill"))
            continue
        best = chosen.get(skill_id)
        # `<=`: among equally ranked raters the later rating wins (a corrected re-entry).
        if best is None or facts[2] <= best[2]:
            chosen[skill_id] = facts

    gaps: list[SkillGap] = []
    ranked: list[RankedGap] = []
    if not chosen:
        return gaps, ranked, unmapped
    levels = index.levels_for(employee.role)
    levels_id = id(levels)
    for skill_id, facts in sorted(chosen.items()):
        rating = facts[0]
        known = facts[4].get(levels_id)
        if known is None or known[0] is not levels:
            known = _verdict(facts, levels, index)
        verdict = known[1]
        if verdict is None:
            continue
        if isinstance(verdict, str):
            unmapped.append(_unmapped(review, rating.skill_key, verdict))
            continue
        value, raw, target, gap, rule_index, rule = verdict
        cause = _cause({
            "review_id": review.review_id,
            "source": review.source,
            "cycle": review.cycle,
            "skill_id": skill_id,
            "rating_key": rating.skill_key,
            "rating_raw": raw,
            "rating": value,
            "rater": rating.rater,
            "target": target,
            "gap": gap,
            "rule_index": rule_index,
            "rule_id": index.rule_ids[rule_index],
            "rule_version": index.rule_versions[rule_index],
            "mapping_version": index.version,
        })
        skill_gap = _skill_gap({
            "employee_id": employee.employee_id,
            "skill_id": skill_id,
            "rating": value,
            "target": target,
            "gap": gap,
            "cause": cause,
        })
        gaps.append(skill_gap)
        ranked.append((-rule.priority, -gap, skill_id, rule_index, rule, skill_gap))
    return gaps, ranked, unmapped


# A review file repeats the same few ratings (a skill, a value, a rater) over and over, and the
# file reader hands out one shared `Rating` object per distinct row, so what the gap finder
# learns about a rating is remembered per object (`MappingIndex.rating_facts`), and with it what
# that rating means for each role's targets (its verdicts). The memo holds the rating itself,
# so an id is never mistaken for a later object's that reused it.


def _facts(rating: Rating, index: MappingIndex, memo: dict[int, Any]) -> _RatingFacts:
    """Work out and remember what `_RatingFacts` says about `rating`."""
    facts: _RatingFacts = (
        rating,
        index.skill_id_for(rating.skill_key),
        index.rater_rank(rating.rater),
        normalise_rating(rating, index),
        {},
    )
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    memo[id(rating)] = facts
    return facts


def _verdict(
    facts: _RatingFacts, levels: dict[str, float], index: MappingIndex
) -> tuple[dict[str, float], _Verdict]:
    """Work out and remember (in `facts`) what its rating means for a role with `levels`."""
    _rating, skill_id, _rank, placed, verdicts = facts
    if skill_id is None:
        raise AssertionError("only ratings of known skills get a verdict")
    verdict: _Verdict
    if isinstance(placed, str):
        verdict = placed
    else:
        value, raw = placed
        target = levels.get(skill_id, index.default_target)
        gap = round(target - value, _PRECISION)
        found = index.rules.get(skill_id) if gap > 0 else None
        if gap <= 0:
            verdict = None
        elif found is None:
            verdict = f"no rule: gap {gap:g} (rating {value:g}, target {target:g})"
        elif gap < found[1].min_gap:
            verdict = None
        else:
            verdict = (value, raw, target, gap, found[0], found[1])
    # The levels object is kept with its verdict, so that a reused id is never mistaken.
    known = (levels, verdict)
    remember(verdicts, id(levels), known)
    return known


def normalise_rating(rating: Rating, index: MappingIndex) -> tuple[float, str] | str:
    """(value on the mapping's scale, the rating as the source gave it), or why it cannot be.

    A numeric value wins over a label. A value comes with the source's scale when the source
    says it; otherwise it is taken as already on the mapping's scale.
    """
    lo, hi = index.scale_min, index.scale_max
    if rating.value is not None:
        v = rating.value
        if rating.scale_min is None and rating.scale_max is None:
            if not lo <= v <= hi:
                return f"rating {v:g} is outside the mapping scale {lo:g}-{hi:g}"
            return round(v, _PRECISION), f"{v:g}"
        smin = rating.scale_min if rating.scale_min is not None else lo
        smax = rating.scale_max if rating.scale_max is not None else hi
        raw = f"{v:g} of {smin:g}-{smax:g}"
        if smin >= smax:
            return f"rating {raw}: the source scale is empty or reversed"
        if not smin <= v <= smax:
            return f"rating {raw} is outside its own scale"
        return round(lo + (v - smin) * (hi - lo) / (smax - smin), _PRECISION), raw
    if rating.label is not None:
        value = index.label_value(rating.label)
        if value is None:
            return f"rating label {rating.label!r} is not in [labels]"
        return value, rating.label
    return "the rating has neither a value nor a label"


def _unmapped(review: Review, skill_key: str, reason: str) -> Unmapped:
    return _unmapped_entry({
        "employee_id": review.employee.employee_id,
        "review_id": review.review_id,
        "skill_key": skill_key,
        "reason": reason,
    })
