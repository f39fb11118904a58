"""The Mapping page: the active mapping, readable (rules by id, skill, courses; targets by
role), and a preview of an edit pasted or uploaded: checked as `connector check` checks a
file, then planned against each employee's most recent stored review
(connector/operations/mapping_preview.py, the same as `connector mapping preview`).
A preview changes nothing, so a viewer may run one too."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from connector.console.app import console
from connector.errors import ConfigError
from connector.operations.mapping_preview import MappingPreview, preview_mapping
from mappings.schema import Mapping

PASTED = "the pasted mapping"


def _active() -> tuple[Mapping | None, str | None]:
    try:
        return console().mapping(), None
    except ConfigError as exc:
        return None, str(exc)


def _active_text() -> str:
    from connector.runtime import resolve_mapping_path

    try:
        return resolve_mapping_path(console().settings).read_text(encoding="utf-8")
    except (OSError, ConfigError, UnicodeDecodeError):
        return ""


def mapping_page(preview: MappingPreview | None = None, text: str | None = None,
                 status: int = 200) -> Any:
    active, problem = _active()
    rules = []
    if active is not None:
        for index, rule in enumerate(active.rules):
            skill = active.skill_id_for(rule.skill) or rule.skill
            roles = {role: levels[skill] for role, levels in active.targets.roles.items()
                     if skill in levels}
            rules.append({"id": rule.rule_id, "place": f"rules[{index}]", "skill": skill,
                          "courses": rule.courses, "min_gap": rule.min_gap,
                          "priority": rule.priority, "due": rule.due_in_days,
                          "roles": roles, "goal_title": rule.goal_title})
    return render_template("mapping.html", active=active, problem=problem, rules=rules,
                           preview=preview, text=_active_text() if text is None else text), \
        status


def preview() -> Any:
    upload = request.files.get("file")
    name = PASTED
    if upload is not None and upload.filename:
        name = upload.filename
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            found = MappingPreview(name, message=f"{name}: not UTF-8 text (byte {exc.start}); "
                                   "save the file as UTF-8", problems=[
                                       f"not UTF-8 text (byte {exc.start})"])
            return mapping_page(found, "", 422)
    else:
        text = request.form.get("text", "")
    if not text.strip():
        found = MappingPreview(name, message="paste a mapping or choose a file first",
                               problems=["paste a mapping or choose a file first"])
        return mapping_page(found, text, 422)
    active, problem = _active()
    if active is None:
        found = MappingPreview(name, message=f"the active mapping cannot be read: {problem}",
                               problems=[str(problem)])
        return mapping_page(found, text, 422)
    from connector.runtime import configured_lms_class

    found = preview_mapping(console().store, active, text, name=name,
                            lms_class=configured_lms_class(console().settings))
    return mapping_page(found, text, 200 if found.valid else 422)
