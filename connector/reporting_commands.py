"""`connector mapping preview FILE` and `connector report NAME`: the console's Mapping preview
and Reports from a terminal, calling the same operations (connector/operations/
mapping_preview.py, connector/operations/reports.py). Registered by `register(sub)`.

Exit codes as elsewhere: 0 ok, 2 an edit that is not valid (every problem printed at once, as
`connector check` prints them) or a file that cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from connector.commands import _emit, _opened_store
from connector.errors import ConfigError
from connector.operations import reports
from connector.operations.mapping_preview import ADDED, REMOVED, UNCHANGED, preview_mapping


def register(sub: Any) -> None:
    mapping = sub.add_parser("mapping", help="what an edited mapping would change")
    mapping_sub = mapping.add_subparsers(dest="mapping_command", metavar="ACTION",
                                         required=True)
    preview = mapping_sub.add_parser(
        "preview", help="plan each employee's most recent stored review under FILE beside "
                        "the active mapping: assignments added, no longer made, unchanged")
    preview.add_argument("file", metavar="FILE", type=Path, help="the edited mapping (TOML)")
    preview.add_argument("--json", action="store_true", help="machine-readable output")
    mapping.set_defaults(func=cmd_mapping)

    report = sub.add_parser("report", help="a report over the ledger (docs/console.md)")
    report.add_argument("name", choices=sorted(reports.REPORTS), metavar="NAME",
                        help="one of: " + ", ".join(sorted(reports.REPORTS)))
    out = report.add_mutually_exclusive_group()
    out.add_argument("--csv", action="store_true", help="CSV (formula cells neutralised)")
    out.add_argument("--json", action="store_true", help="machine-readable output")
    report.set_defaults(func=cmd_report)


def cmd_mapping(args: argparse.Namespace) -> int:
    """`mapping preview FILE`: the edit checked as `connector check` checks it, then planned
    against the stored reviews; nothing is written."""
    from connector.runtime import configured_lms_class, resolve_mapping_path
    from mappings.loader import load_mapping

    with _opened_store() as (settings, store):  # settings and the database first
        text = _read_text(args.file)
        active = load_mapping(resolve_mapping_path(settings))
        found = preview_mapping(store, active, text, name=str(args.file),
                                lms_class=configured_lms_class(settings))
    if not found.valid:
        raise ConfigError(found.message)
    _emit(args, found.as_json(), format_preview(found))
    return 0


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: mapping file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the mapping file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as "
                          "UTF-8") from None


def format_preview(found: Any) -> str:
    counts = {k: len(v) for k, v in found.changes.items()}
    lines = [f"{found.name} against the most recent stored review of {found.reviews} "
             f"employee(s): {counts[ADDED]} assignment(s) added, {counts[REMOVED]} no longer "
             f"made, {counts[UNCHANGED]} unchanged"]
    lines += [f"  warning: {w}" for w in found.warnings]
    for group in found.groups():
        if not (group.added or group.removed):
            continue
        lines.append(f"{group.skill} · {group.role}:")
        lines += [f"  + {c.name} ({c.employee_id}): {c.course_label} ({c.rule})"
                  + (" — already assigned for an open goal" if c.already_open else "")
                  for c in group.added]
        lines += [f"  - {c.name} ({c.employee_id}): {c.course_label} ({c.rule})"
                  for c in group.removed]
    if counts[REMOVED]:
        lines.append("No longer made is not withdrawn: `connector withdraw` does that.")
    return "\n".join(lines)


def cmd_report(args: argparse.Namespace) -> int:
    with _opened_store() as (_, store):
        found = reports.report(store, args.name)
    if args.csv:
        sys.stdout.write(reports.csv_text(found))
        return 0
    if args.json:
        print(json.dumps(found.as_json(), indent=2, default=str))
        return 0
    widths = [max(len(str(c)) for c in [col, *(r[i] for r in found.rows)])
              for i, col in enumerate(found.columns)]
    lines = [found.title, "  ".join(c.ljust(w) for c, w in zip(found.columns, widths,
                                                              strict=True))]
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True))
              for row in found.rows]
    if not found.rows:
        lines.append("(nothing yet)")
    if found.note:
        lines.append(found.note)
    print("\n".join(lines))
    return 0
