"""The shape of the admin's mapping file, and the lookups the gap finder needs from it.

Every model forbids unknown keys: a typo in a file an HR admin edits by hand must be an error
that names the key, not a setting that silently does nothing. Names (skills, aliases, labels,
raters, roles) are matched ignoring case, spacing and punctuation, because review exports spell
"KPI 12", "kpi-12" and "KPI12" interchangeably.
"""

from __future__ import annotations

import hashlib
import json
import string
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

#: Placeholders a rule's `goal_title` may use.
GOAL_TITLE_PLACEHOLDERS = ("skill", "rating", "target", "gap", "employee", "cycle")

PriorCompletion = Literal["ignore", "accept_within_days", "reset"]


@lru_cache(maxsize=65536)
def normalise_name(text: str) -> str:
    """The matching form of a name: case-folded letters and digits only ("KPI 12" → "kpi12")."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def toml_key(key: str) -> str:
    """A key as written in a TOML path: bare when it can be, quoted otherwise."""
    bare = bool(key) and all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in key)
    return key if bare else repr(key)


def _course_id(value: Any) -> Any:
    """Course ids are strings; TOML integers (`courses = [101]`) are accepted and converted."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise PydanticCustomError(
            "course_id", "expected a course id as a string or an integer, got {got}",
            {"got": type(value).__name__},
        )
    return value


CourseId = Annotated[str, BeforeValidator(_course_id), Field(min_length=1)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Scale(_Section):
    """The mapping's own rating scale; source ratings are normalised onto it."""

    min: float = 1
    max: float = 5

    @model_validator(mode="after")
    def _ordered(self) -> Scale:
        if self.min >= self.max:
            raise PydanticCustomError("scale", "scale.min must be below scale.max")
        return self


class Raters(_Section):
    """Which rater's rating counts when several people rated the same skill (first wins)."""

    precedence: list[str] = Field(default_factory=lambda: ["calibrated", "manager", "self"])


class Targets(_Section):
    """Expected level per skill: `default` for everyone, overridden per role and skill."""

    default: float = 3
    roles: dict[str, dict[str, float]] = Field(default_factory=dict)


class SkillDef(_Section):
    """A skill as the mapping knows it, and the names review sources use for it."""

    id: str = Field(min_length=1)
    name: str | None = None  # shown in goal titles; the id when absent
    aliases: list[str] = Field(default_factory=list)
    # The skill's competency in a goal tracker that keeps competencies (Moodle's competency
    # id); optional, and only that tracker reads it.
    competency: CourseId | None = None

    @property
    def display_name(self) -> str:
        return self.name or self.id


class Rule(_Section):
    """When a skill's gap is big enough, which courses to assign and which goal to open.

    `id` names the rule for good: goals and causes remember it, so reordering or inserting
    rules never hands an open goal another rule. Without one, the id is derived from the skill
    and the courses (`negotiation:101+102`), which changes when either does.
    """

    id: str | None = Field(default=None, min_length=1, pattern=r"^[A-Za-z0-9_.:+-]+$")
    skill: str = Field(min_length=1)
    min_gap: float = Field(default=1, gt=0)
    courses: list[CourseId] = Field(min_length=1)
    priority: int = 0
    due_in_days: int = Field(default=60, ge=0)
    goal_title: str = "Raise {skill} from {rating} to {target}"
    prior_completion: PriorCompletion = "ignore"
    accept_within_days: int | None = Field(default=None, ge=0)
    recertify_every_days: int | None = Field(default=None, gt=0)

    @property
    def rule_id(self) -> str:
        """The rule's stable id: the one given in the file, else skill and courses."""
        return self.id or f"{normalise_name(self.skill)}:{'+'.join(self.courses)}"

    @property
    def version(self) -> str:
        """A hash of what the rule says (its id aside): changes when an edit changes it."""
        return _digest(self.model_dump(mode="json", exclude={"id"}))

    @field_validator("goal_title")
    @classmethod
    def _known_placeholders(cls, title: str) -> str:
        check_goal_title(title)
        return title

    @model_validator(mode="after")
    def _window_iff_accept(self) -> Rule:
        wants_window = self.prior_completion == "accept_within_days"
        if wants_window and self.accept_within_days is None:
            raise PydanticCustomError(
                "accept_window",
                'accept_within_days is required when prior_completion = "accept_within_days"',
            )
        if not wants_window and self.accept_within_days is not None:
            raise PydanticCustomError(
                "accept_window",
                'accept_within_days only applies when prior_completion = "accept_within_days"',
            )
        return self


class Limits(_Section):
    """Guards against a mapping mistake turning into a flood of assignments."""

    max_courses_per_review: int = Field(default=3, ge=0)
    max_assignments_per_run: int | None = Field(default=None, ge=0)
    max_assignment_share: float | None = Field(default=None, ge=0, le=1)


class Approval(_Section):
    required: bool = False


def check_goal_title(title: str) -> None:
    """Refuse templates that would fail (or print nonsense) when the goal is opened."""
    allowed = ", ".join("{" + p + "}" for p in GOAL_TITLE_PLACEHOLDERS)
    try:
        parts = list(string.Formatter().parse(title))
    except ValueError as exc:
        raise PydanticCustomError(
            "goal_title", "malformed template ({why}); use braces only around {allowed}",
            {"why": str(exc), "allowed": allowed},
        ) from None
    for _text, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in GOAL_TITLE_PLACEHOLDERS:
            raise PydanticCustomError(
                "goal_title", "unknown placeholder {placeholder}; allowed: {allowed}",
                {"placeholder": "{" + field + "}", "allowed": allowed},
            )
        if spec or conversion:
            raise PydanticCustomError(
                "goal_title", "placeholder {placeholder} takes no format or conversion",
                {"placeholder": "{" + field + "}"},
            )


class Mapping(_Section):
    """The whole mapping file, with lookups prepared once for the hot path."""

    scale: Scale = Field(default_factory=Scale)
    raters: Raters = Field(default_factory=Raters)
    targets: Targets = Field(default_factory=Targets)
    skills: list[SkillDef] = Field(default_factory=list)
    labels: dict[str, float] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    protected: list[str] = Field(default_factory=list)
    approval: Approval = Field(default_factory=Approval)

    _index: MappingIndex = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        self._index = MappingIndex(self)

    @property
    def index(self) -> MappingIndex:
        """The lookups, as a plain object: hot loops take it once (private attributes of a
        pydantic model are slow to reach)."""
        return self._index

    @model_validator(mode="after")
    def _cross_check(self) -> Mapping:
        problems = cross_check(self)
        if problems:
            # One error carrying every problem, one per line; the loader splits them.
            raise PydanticCustomError("mapping", "{problems}", {"problems": "\n".join(problems)})
        return self

    # Lookups used by the gap finder, the planner and the CLI (see MappingIndex).

    def skill_id_for(self, name: str) -> str | None:
        return self._index.skill_id_for(name)

    def is_known_skill(self, name: str) -> bool:
        return self._index.skill_id_for(name) is not None

    def skill(self, skill_id: str) -> SkillDef:
        return self._index.skills[skill_id]

    def label_value(self, label: str) -> float | None:
        return self._index.label_value(label)

    def rater_rank(self, rater: str) -> int:
        return self._index.rater_rank(rater)

    def target_for(self, role: str | None, skill_id: str) -> float:
        return self._index.target_for(role, skill_id)

    def rule_for(self, skill_id: str) -> tuple[int, Rule] | None:
        return self._index.rules.get(skill_id)

    def rule_by_id(self, rule_id: str | None, index: int | None = None) -> Rule | None:
        """The rule a goal or cause names: by its id; rows written before rules had ids
        (`rule_id` None) fall back to their position, `rules[index]`."""
        if rule_id is not None:
            return self._index.rule_by_id.get(rule_id)
        if index is not None and 0 <= index < len(self.rules):
            return self.rules[index]
        return None

    @property
    def version(self) -> str:
        """A hash of the normalised mapping: which mapping a cause was planned under."""
        return self._index.version

    def is_protected(self, employee_id: str) -> bool:
        return employee_id in self._index.protected

    def course_ids(self) -> list[str]:
        """Every course id the rules name, sorted, each once."""
        return sorted({course for rule in self.rules for course in rule.courses})


class MappingIndex:
    """The mapping's names resolved once: every lookup the hot path makes is one dict get.

    Built from a validated mapping; where names clash the first definition wins here, and the
    cross-check reports the clash. Names are also remembered as the sources spell them
    (`skill_id_for("KPI 12")` normalises "KPI 12" once, not once per rating), in bounded
    memos: a mapping is immutable, so a memo can only ever repeat an earlier answer.
    """

    __slots__ = (
        "_levels_by_role", "_no_targets", "_rank_by_rater", "_skill_by_key", "by_name",
        "default_target", "due_after", "labels", "protected", "rater_rank_of", "rating_facts",
        "role_targets", "rule_by_id", "rule_ids", "rule_versions", "rules", "scale_max",
        "scale_min", "skills", "unranked", "version",
    )

    def __init__(self, mapping: Mapping) -> None:
        self.scale_min = mapping.scale.min
        self.scale_max = mapping.scale.max
        self.default_target = mapping.targets.default
        self.skills: dict[str, SkillDef] = {}
        self.by_name: dict[str, str] = {}
        for skill in mapping.skills:
            self.skills.setdefault(skill.id, skill)
            for name in (skill.id, *skill.aliases):
                self.by_name.setdefault(normalise_name(name), skill.id)
        self.labels: dict[str, float] = {}
        for label, value in mapping.labels.items():
            self.labels.setdefault(normalise_name(label), value)
        self.rater_rank_of: dict[str, int] = {}
        for rank, rater in enumerate(mapping.raters.precedence):
            self.rater_rank_of.setdefault(normalise_name(rater), rank)
        self.unranked = len(mapping.raters.precedence)
        self.role_targets: dict[str, dict[str, float]] = {}
        for role, levels in mapping.targets.roles.items():
            resolved = self.role_targets.setdefault(normalise_name(role), {})
            for name, level in levels.items():
                skill_id = self.by_name.get(normalise_name(name))
                if skill_id is not None:
                    resolved[skill_id] = level
        self.rules: dict[str, tuple[int, Rule]] = {}
        for index, rule in enumerate(mapping.rules):
            skill_id = self.by_name.get(normalise_name(rule.skill))
            if skill_id is not None:
                self.rules.setdefault(skill_id, (index, rule))
        #: rules[N] → its stable id, and id → rule (the first wins; the cross-check reports
        #: a clash).
        self.rule_ids = [rule.rule_id for rule in mapping.rules]
        self.rule_versions = [rule.version for rule in mapping.rules]
        self.rule_by_id: dict[str, Rule] = {}
        for rule_id, rule in zip(self.rule_ids, mapping.rules, strict=True):
            self.rule_by_id.setdefault(rule_id, rule)
        self.version = _digest(mapping.model_dump(mode="json"))
        #: rules[N] → how long after the review its courses are due.
        self.due_after = [timedelta(days=rule.due_in_days) for rule in mapping.rules]
        self.protected = frozenset(mapping.protected)
        #: id(rating) → what the gap finder worked out about that very rating object (see
        #: mappings.gaps); bounded like the name memos.
        self.rating_facts: dict[int, Any] = {}
        self._skill_by_key: dict[str, str | None] = {}
        self._rank_by_rater: dict[str, int] = {}
        self._levels_by_role: dict[str | None, dict[str, float]] = {}
        self._no_targets: dict[str, float] = {}

    def skill_id_for(self, name: str) -> str | None:
        """The skill id a source's name (id or alias, any spelling) stands for."""
        try:
            return self._skill_by_key[name]
        except KeyError:
            found = self.by_name.get(normalise_name(name))
            remember(self._skill_by_key, name, found)
            return found

    def label_value(self, label: str) -> float | None:
        return self.labels.get(normalise_name(label))

    def rater_rank(self, rater: str) -> int:
        """Lower counts more; raters missing from `precedence` rank after every listed one."""
        try:
            return self._rank_by_rater[rater]
        except KeyError:
            rank = self.rater_rank_of.get(normalise_name(rater), self.unranked)
            remember(self._rank_by_rater, rater, rank)
            return rank

    def levels_for(self, role: str | None) -> dict[str, float]:
        """The role's own targets by skill id (empty when the role sets none): a skill missing
        here has the default target."""
        try:
            return self._levels_by_role[role]
        except KeyError:
            # Roles without targets of their own share one (never changed) empty mapping, so
            # what is remembered per role's levels (mappings.gaps) stays bounded by the
            # mapping's roles, not by how many job titles a file spells.
            levels = (self.role_targets.get(normalise_name(role), self._no_targets) if role
                      else self._no_targets)
            remember(self._levels_by_role, role, levels)
            return levels

    def target_for(self, role: str | None, skill_id: str) -> float:
        return self.levels_for(role).get(skill_id, self.default_target)


#: How many entries a memo keeps before it starts again (bounds memory on files whose names
#: or comments never repeat).
MEMO_LIMIT = 4096


def remember(memo: dict[Any, Any], key: Any, value: Any) -> None:
    """Store `value` in a bounded memo, emptying it first when it is full."""
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    memo[key] = value


def _digest(data: Any) -> str:
    """A short stable hash of JSON-able data (keys sorted, so order of keys never matters)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cross_check(mapping: Mapping) -> list[str]:
    """Problems that span sections: names that must refer to each other, clashing names."""
    return cross_check_parts(MappingParts.of(mapping))


@dataclass
class MappingParts:
    """What the cross-section checks look at, each entry with its index in the file.

    The loader fills one in from the entries that parsed (a rule whose `courses` has the wrong
    type still names its skill), so a type error in one entry does not hide a reference or
    range error elsewhere. `scale` is None when the scale itself is bad (ranges are then not
    checked); `broken_skill_names` are the names of skill entries that failed to parse, known
    for references but not checked for clashes.
    """

    scale: Scale | None
    skills: list[tuple[int, SkillDef]]
    labels: dict[str, float]
    default_target: float | None
    role_levels: dict[str, dict[str, float]]
    rule_skills: list[tuple[int, str]]
    broken_skill_names: list[str] = dataclass_field(default_factory=list)
    rule_ids: list[tuple[int, str]] = dataclass_field(default_factory=list)  # rules that parsed

    @classmethod
    def of(cls, mapping: Mapping) -> MappingParts:
        return cls(
            scale=mapping.scale, skills=list(enumerate(mapping.skills)),
            labels=dict(mapping.labels), default_target=mapping.targets.default,
            role_levels=mapping.targets.roles,
            rule_skills=[(i, rule.skill) for i, rule in enumerate(mapping.rules)],
            rule_ids=[(i, rule.rule_id) for i, rule in enumerate(mapping.rules)],
        )


def cross_check_parts(parts: MappingParts) -> list[str]:
    """The cross-section problems of `parts`, one line each, naming where in the file."""
    problems: list[str] = []
    owner: dict[str, tuple[str, str]] = {}  # normalised name → (skill id, where it was written)
    for i, skill in parts.skills:
        names = [(f"skills[{i}].id", skill.id)]
        names += [(f"skills[{i}].aliases[{j}]", a) for j, a in enumerate(skill.aliases)]
        for where, name in names:
            key = normalise_name(name)
            if not key:
                problems.append(f"{where}: {name!r} has no letters or digits to match on")
                continue
            seen = owner.get(key)
            if seen is None:
                owner[key] = (skill.id, where)
            elif seen[0] != skill.id or where.endswith(".id"):
                problems.append(
                    f"{where}: {name!r} is already used by skill {seen[0]!r} ({seen[1]}); "
                    "names must be unique across skills (case, spaces and punctuation ignored)"
                )
    for name in parts.broken_skill_names:
        owner.setdefault(normalise_name(name), (name, "a skill entry with problems"))
    scale = parts.scale
    in_scale = (lambda _v: True) if scale is None else (lambda v: scale.min <= v <= scale.max)
    span = "" if scale is None else f"{scale.min:g}-{scale.max:g}"
    seen_labels: dict[str, str] = {}
    for label, value in parts.labels.items():
        key = normalise_name(label)
        if key in seen_labels:
            problems.append(f"labels.{toml_key(label)}: same label as {seen_labels[key]!r}")
        seen_labels[key] = label
        if not in_scale(value):
            problems.append(f"labels.{toml_key(label)}: {value:g} is outside the scale {span}")
    if parts.default_target is not None and not in_scale(parts.default_target):
        problems.append(f"targets.default: {parts.default_target:g} is outside the scale {span}")
    for role, levels in parts.role_levels.items():
        for name, level in levels.items():
            where = f"targets.roles.{toml_key(role)}.{toml_key(name)}"
            if normalise_name(name) not in owner:
                problems.append(f"{where}: unknown skill {name!r}; add it to [[skills]]")
            if not in_scale(level):
                problems.append(f"{where}: {level:g} is outside the scale {span}")
    rule_of: dict[str, int] = {}
    for i, skill_name in parts.rule_skills:
        found = owner.get(normalise_name(skill_name))
        if found is None:
            problems.append(f"rules[{i}].skill: unknown skill {skill_name!r}; add it to [[skills]]")
            continue
        skill_id = found[0]
        if skill_id in rule_of:
            problems.append(
                f"rules[{i}].skill: skill {skill_id!r} already has a rule "
                f"(rules[{rule_of[skill_id]}]); give each skill one rule"
            )
        rule_of.setdefault(skill_id, i)
    id_of: dict[str, int] = {}
    for i, rule_id in parts.rule_ids:
        if rule_id in id_of:
            problems.append(
                f"rules[{i}].id: rule id {rule_id!r} is already used by "
                f"rules[{id_of[rule_id]}]; give each rule its own id"
            )
        id_of.setdefault(rule_id, i)
    return problems
