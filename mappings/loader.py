"""Read the admin's mapping file and turn every mistake into a message an HR admin can act on.

A message names the file, then either the line and column (TOML syntax) or the path inside the
file in the same spelling the admin reads in the docs (`rules[3].courses[0]`, 0-based), and what
was expected there. All problems are reported at once, so one edit-check cycle fixes them all.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from connector.errors import ConfigError
from mappings.schema import (
    Approval,
    Limits,
    Mapping,
    MappingParts,
    Raters,
    Rule,
    Scale,
    SkillDef,
    Targets,
    cross_check_parts,
    toml_key,
)

_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def load_mapping(path: str | Path) -> Mapping:
    """The mapping in `path`, or a ConfigError naming the file and each problem in it."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: mapping file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the mapping file: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        ) from None
    return load_mapping_text(text, str(path))


def load_mapping_text(text: str, name: str = "<mapping>") -> Mapping:
    """Parse and validate mapping text; `name` is what error messages call the file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: {_describe_toml_error(exc)}") from None
    try:
        return Mapping.model_validate(data)
    except ValidationError:
        # pydantic stops a section at its type errors, before the cross-section checks: read
        # it again entry by entry, so every problem of the file is reported in this one run.
        problems = collect_problems(data)
        noun = "problem" if len(problems) == 1 else "problems"
        raise ConfigError(
            f"{name}: {len(problems)} {noun} in the mapping:\n  " + "\n  ".join(problems)
        ) from None


def _describe_toml_error(exc: tomllib.TOMLDecodeError) -> str:
    """'line 4, column 9: invalid value' rather than tomllib's trailing '(at line 4, column 9)'."""
    message = str(exc)
    found = _TOML_POSITION.search(message)
    if not found:
        return f"TOML syntax error: {message}"
    reason = _TOML_POSITION.sub("", message).strip()
    return f"line {found.group(1)}, column {found.group(2)}: TOML syntax error: {reason}"


def format_location(loc: tuple[int | str, ...]) -> str:
    """('rules', 3, 'courses', 0) → 'rules[3].courses[0]'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{toml_key(part)}"
        else:
            out = toml_key(part)
    return out


def describe_validation_errors(exc: ValidationError) -> list[str]:
    """One line per problem: '<path>: <what was expected>'."""
    return describe_errors(exc.errors(include_url=False))


def describe_errors(errors: Any, prefix: tuple[int | str, ...] = ()) -> list[str]:
    """One line per pydantic error, its place in the file under `prefix`."""
    lines: list[str] = []
    for err in errors:
        loc = (*prefix, *err["loc"])
        kind = err["type"]
        if kind == "mapping":
            # Cross-section checks arrive as one error with one problem per line.
            lines.extend(str(err["ctx"]["problems"]).splitlines())
            continue
        where = format_location(loc) or "mapping"
        lines.append(f"{where}: {_describe_one(kind, err['msg'], err.get('input'), loc)}")
    return lines


def _describe_one(kind: str, msg: str, value: Any, loc: tuple[int | str, ...]) -> str:
    if kind == "extra_forbidden":
        return unknown_key(loc[-1] if loc else "?")
    if kind == "missing":
        return "required key is missing"
    msg = msg.removeprefix("Value error, ")
    if msg.startswith("Input should be "):
        msg = "expected " + msg.removeprefix("Input should be ")
        if kind.endswith("_type") or kind.endswith("_parsing"):
            msg += f", got {_show(value)}"
    elif msg.startswith("List should have at least 1 item"):
        msg = "expected a non-empty list"
    return msg


def unknown_key(key: int | str) -> str:
    return f"unknown key {key!r} (check the spelling; see mappings/example.toml)"


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({type(value).__name__})"


# Every problem at once: each section and entry validated on its own.
#
# Validating the whole `Mapping` stops a section at its type errors and never runs the checks
# across sections, so an admin would fix a file in rounds. Here each section, each
# [[skills]]/[[rules]] entry, each label and each role's targets is validated apart, its place
# in the file kept; then the cross-section checks run on whatever parsed (a rule whose
# `courses` is wrong still names its skill). Problems come in file order, cross-section last.

_LEVEL = TypeAdapter(float, config=ConfigDict(strict=True))
_NAMES = TypeAdapter(list[str], config=ConfigDict(strict=True))
_SECTIONS: dict[str, type[BaseModel]] = {
    "scale": Scale, "raters": Raters, "limits": Limits, "approval": Approval,
}


class _Problems:
    """Problem lines gathered so far, each validation error placed under its prefix."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def validate(self, adapter: Any, value: Any, prefix: tuple[int | str, ...]) -> Any:
        """`adapter`'s result for `value`, or None after recording each of its problems."""
        try:
            if isinstance(adapter, type) and issubclass(adapter, BaseModel):
                return adapter.model_validate(value)
            return adapter.validate_python(value)
        except ValidationError as exc:
            self.lines.extend(describe_errors(exc.errors(include_url=False), prefix))
            return None


def collect_problems(data: dict[str, Any]) -> list[str]:
    """Every problem in parsed mapping `data` (empty when it is a valid mapping)."""
    found = _Problems()
    for key in data:
        if key not in Mapping.model_fields:
            found.lines.append(f"{key}: {unknown_key(key)}")
    sections = {
        name: found.validate(model, data[name], (name,))
        for name, model in _SECTIONS.items() if name in data
    }
    if "protected" in data:
        found.validate(_NAMES, data["protected"], ("protected",))
    scale = sections.get("scale") if "scale" in data else Scale()

    skills: list[tuple[int, SkillDef]] = []
    broken: list[str] = []
    for i, entry in _entries(data, "skills", found):
        skill = found.validate(SkillDef, entry, ("skills", i))
        if skill is not None:
            skills.append((i, skill))
        elif isinstance(entry, dict):
            broken += [n for n in (entry.get("id"), *_list(entry.get("aliases")))
                       if isinstance(n, str)]

    rule_skills: list[tuple[int, str]] = []
    rule_ids: list[tuple[int, str]] = []
    for i, entry in _entries(data, "rules", found):
        rule = found.validate(Rule, entry, ("rules", i))
        if rule is not None:
            rule_skills.append((i, rule.skill))
            rule_ids.append((i, rule.rule_id))
        elif isinstance(entry, dict) and isinstance(entry.get("skill"), str) and entry["skill"]:
            rule_skills.append((i, entry["skill"]))

    labels: dict[str, float] = {}
    for label, value in _table(data, "labels", found).items():
        level = found.validate(_LEVEL, value, ("labels", label))
        if level is not None:
            labels[label] = level

    default_target, role_levels = _targets(data, found)
    parts = MappingParts(
        scale=scale, skills=skills, labels=labels, default_target=default_target,
        role_levels=role_levels, rule_skills=rule_skills, broken_skill_names=broken,
        rule_ids=rule_ids,
    )
    return found.lines + cross_check_parts(parts)


def _targets(data: dict[str, Any], found: _Problems) -> tuple[float | None, dict[str, Any]]:
    """The default target and each role's levels that parsed (one role apart from another)."""
    raw = _table(data, "targets", found)
    default: float | None = Targets().default
    rest = {k: v for k, v in raw.items() if k != "roles"}
    if rest:
        targets = found.validate(Targets, rest, ("targets",))
        default = targets.default if targets is not None else None
    roles: dict[str, Any] = {}
    raw_roles = raw.get("roles", {})
    if not isinstance(raw_roles, dict):
        found.validate(Targets, {"roles": raw_roles}, ("targets",))
        return default, roles
    for role, levels in raw_roles.items():
        parsed = found.validate(Targets, {"roles": {role: levels}}, ("targets",))
        if parsed is not None:
            roles[role] = parsed.roles[role]
    return default, roles


def _entries(data: dict[str, Any], name: str, found: _Problems) -> list[tuple[int, Any]]:
    """(index, entry) of the array of tables `name`; a non-list is one problem."""
    value = data.get(name, [])
    if not isinstance(value, list):
        found.lines.append(f"{name}: expected a list ([[{name}]] entries), got "
                           f"{type(value).__name__}")
        return []
    return list(enumerate(value))


def _table(data: dict[str, Any], name: str, found: _Problems) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        found.lines.append(f"{name}: expected a table ([{name}]), got {type(value).__name__}")
        return {}
    return value


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
