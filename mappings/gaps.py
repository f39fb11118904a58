"""The gap finder: which skills in one review fall short of their target, and why.

Pure: a function of (review, mapping) only. Every rated skill ends up in exactly one place: a
`SkillGap` (big enough and covered by a rule), an `Unmapped` entry (something the mapping cannot
place, shown to the admin rather than dropped), or nowhere because it meets its target.
"""

from __future__ import annotations

from connector.models import Cause, Rating, Review, SkillGap, Unmapped
from mappings.schema import Mapping, MappingIndex, trusted

# Ratings are rounded after normalisation so that 3 - 1.9999999999 counts as a gap of 1.
_PRECISION = 6


def find_gaps(review: Review, mapping: Mapping) -> tuple[list[SkillGap], list[Unmapped]]:
    """Gaps (sorted by skill id) and unmapped ratings (in the order they were rated)."""
    employee = review.employee
    index = mapping.index
    unmapped: list[Unmapped] = []
    unknown_seen: set[str] = set()
    chosen: dict[str, tuple[int, Rating]] = {}  # skill id → (rater rank, rating)
    for rating in review.ratings:
        skill_id = index.skill_id_for(rating.skill_key)
        if skill_id is None:
            if rating.skill_key not in unknown_seen:
                unknown_seen.add(rating.skill_key)
                unmapped.append(_unmapped(review, rating.skill_key, "unknown skill"))
            continue
        rank = index.rater_rank(rating.rater)
        best = chosen.get(skill_id)
        # `<=`: among equally ranked raters the later rating wins (a corrected re-entry).
        if best is None or rank <= best[0]:
            chosen[skill_id] = (rank, rating)

    gaps: list[SkillGap] = []
    for skill_id in sorted(chosen):
        rating = chosen[skill_id][1]
        placed = normalise_rating(rating, index)
        if isinstance(placed, str):
            unmapped.append(_unmapped(review, rating.skill_key, placed))
            continue
        value, raw = placed
        target = index.target_for(employee.role, skill_id)
        gap = round(target - value, _PRECISION)
        if gap <= 0:
            continue
        found = index.rules.get(skill_id)
        if found is None:
            reason = f"no rule: gap {gap:g} (rating {value:g}, target {target:g})"
            unmapped.append(_unmapped(review, rating.skill_key, reason))
            continue
        rule_index, rule = found
        if gap < rule.min_gap:
            continue
        cause = trusted(
            Cause,
            review_id=review.review_id,
            source=review.source,
            cycle=review.cycle,
            skill_id=skill_id,
            rating_key=rating.skill_key,
            rating_raw=raw,
            rating=value,
            rater=rating.rater,
            target=target,
            gap=gap,
            rule_index=rule_index,
        )
        gaps.append(
            trusted(
                SkillGap,
                employee_id=employee.employee_id,
                skill_id=skill_id,
                rating=value,
                target=target,
                gap=gap,
                cause=cause,
            )
        )
    return gaps, unmapped


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
    return trusted(
        Unmapped,
        employee_id=review.employee.employee_id,
        review_id=review.review_id,
        skill_key=skill_key,
        reason=reason,
    )
