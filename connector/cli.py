"""The `connector` command line: one subcommand per job, each a `cmd_<name>(args) -> int`.

Exit codes: 0 ok, 1 runtime failure, 2 bad input or configuration. Errors the connector raises
on purpose (`ConnectorError`) are printed as one `error: ...` line on stderr; a person never
sees a traceback for a mistake in a file they wrote. A command run with `--json` keeps stdout
machine-readable even when it fails: the error also goes to stdout as
`{"error": message, "exit_code": N}` (bad arguments, configuration, runtime failures alike).
New subcommands are added in `build_parser()` with `parser.subcommands.add_parser(...)`
and `set_defaults(func=cmd_<name>)`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from importlib import metadata, resources
from pathlib import Path
from typing import Any, NoReturn, TextIO

from connector.errors import ConfigError, ConnectorError, InputError
from connector.models import ActionKind, Plan, PlanAction, Skipped, Unmapped
from connector.plan_summary import distinct_skips
from connector.planner import LedgerView, Planner, show_level
from connector.reviews.file import ReviewFile, rating_bounds, read_reviews
from connector.reviews.report import describe
from connector.settings import load_settings
from mappings.loader import load_mapping, load_mapping_text
from mappings.schema import Mapping

BUILT_IN_MAPPING = "mappings/example.toml (built in)"


def _version() -> str:
    """The installed distribution's version (one source of truth: pyproject.toml)."""
    try:
        return metadata.version("skillgap-connector")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


class UsageError(Exception):
    """Bad command-line arguments, raised instead of argparse's exit so `main` can also
    answer in JSON when `--json` was asked for."""

    exit_code = 2

    def __init__(self, message: str, parser: argparse.ArgumentParser) -> None:
        super().__init__(message)
        self.parser = parser


class ConnectorParser(argparse.ArgumentParser):
    """The top-level parser; `subcommands` is where later commands are registered (they are
    ConnectorParsers too, so every usage error reaches `main`)."""

    subcommands: argparse._SubParsersAction[ConnectorParser]

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self)


def build_parser() -> ConnectorParser:
    parser = ConnectorParser(
        prog="connector",
        description="Turn performance-review skill gaps into LMS courses and development goals.",
    )
    parser.add_argument("--version", action="version", version=f"connector {_version()}")
    parser.set_defaults(func=None)
    parser.subcommands = parser.add_subparsers(title="commands", metavar="COMMAND")

    check = parser.subcommands.add_parser("check", help="validate the mapping file")
    _add_mapping_option(check)
    check.set_defaults(func=cmd_check)

    plan = parser.subcommands.add_parser(
        "plan", help="dry run: show what a review file would assign (changes nothing)"
    )
    plan.add_argument("--reviews", required=True, metavar="FILE", help="CSV or JSON review file")
    _add_mapping_option(plan)
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.add_argument(
        "--allow-partial", action="store_true",
        help="exit 0 even when some rows of the review file were rejected",
    )
    plan.add_argument("--source", default="csv", help="review source name recorded on reviews")
    plan.add_argument(
        "--today", type=_iso_date, metavar="YYYY-MM-DD",
        help="plan as of this day (due dates count from it); default: today (UTC)",
    )
    plan.set_defaults(func=cmd_plan)

    check.add_argument(
        "--online", action="store_true",
        help="also check the vendor credentials, the rate limit left and every course id",
    )

    demo = parser.subcommands.add_parser(
        "demo", help="the whole loop against sandbox vendors on loopback (SQLite)"
    )
    demo.add_argument("--database", type=Path, default=Path("connector.db"),
                      help="SQLite file the demo leaves behind (default: ./connector.db)")
    demo.add_argument("--employees", type=int, default=60, help="size of the organisation")
    demo.add_argument("--keep-running", action="store_true",
                      help="leave the sandboxes and the service running to explore")
    demo.add_argument("--plan-only", action="store_true",
                      help="only plan the bundled example reviews (no sandboxes)")
    demo.add_argument("--quiet", action="store_true", help="no progress display")
    for flag, part in (("--lms", "LMS"), ("--goals", "goal tracker"),
                       ("--reviews", "review source"), ("--completions", "completion source")):
        demo.add_argument(flag, metavar="VENDOR",
                          help=f"the {part} to play (a registered vendor with a sandbox; "
                               "default: the settings' default)")
    demo.set_defaults(func=cmd_demo)

    from connector import commands, drift_commands, notify_commands, reporting_commands

    commands.register(parser.subcommands)
    commands.register_service(parser.subcommands)
    commands.register_history(parser.subcommands)
    notify_commands.register(parser.subcommands)
    reporting_commands.register(parser.subcommands)
    drift_commands.register(parser.subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in words
    parser = build_parser()
    try:
        args = parser.parse_args(words)
    except UsageError as exc:
        exc.parser.print_usage(sys.stderr)
        return _fail(f"{exc.parser.prog}: {exc}", exc.exit_code, as_json=as_json)
    as_json = bool(getattr(args, "json", False))
    if args.func is None:
        parser.print_help(sys.stderr)
        return 2
    try:  # a command opens the one store of its run and closes it before it returns
        code: int = args.func(args)
    except ConnectorError as exc:
        return _fail(str(exc), exc.exit_code, as_json=as_json)
    except KeyboardInterrupt:
        return _fail("interrupted", 130, as_json=as_json, prefix="")
    except BrokenPipeError:
        # The reader went away (`connector plan ... | head`); not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as exc:
        if not as_json:
            raise
        # A bug, not a mistake of the user's: stdout still gets JSON, stderr the traceback.
        _fail(f"unexpected {type(exc).__name__}; the traceback is on stderr", 1,
              as_json=True, quiet=True)
        raise
    return code


def _fail(message: str, exit_code: int, *, as_json: bool, prefix: str = "error: ",
          quiet: bool = False) -> int:
    """Report a failed command: one line on stderr for people and, with `--json`, the same
    as `{"error": message, "exit_code": N}` on stdout for machines."""
    if not quiet:
        print(f"{prefix}{message}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": message, "exit_code": exit_code}, ensure_ascii=False),
              flush=True)
    return exit_code


# Commands


def cmd_check(args: argparse.Namespace) -> int:
    from connector.abilities import missing_abilities
    from connector.runtime import configured_lms_class

    mapping, name = resolve_mapping(args.mapping)
    lacking = missing_abilities(mapping, configured_lms_class(load_settings()))
    if lacking:
        raise ConfigError(f"{name}: the mapping needs what the LMS cannot do:\n  "
                          + "\n  ".join(lacking))
    roles = mapping.targets.roles
    unruled = [s.id for s in mapping.skills if mapping.rule_for(s.id) is None]
    print(f"mapping OK: {name}")
    print(
        f"  {len(mapping.skills)} skills, {len(mapping.rules)} rules, {len(roles)} roles, "
        f"{len(mapping.course_ids())} courses"
    )
    print(
        f"  scale {mapping.scale.min:g}-{mapping.scale.max:g}, default target "
        f"{mapping.targets.default:g}, at most {mapping.limits.max_courses_per_review} "
        "new courses per review"
    )
    if roles:
        print(f"  roles: {', '.join(sorted(roles))}")
    if unruled:
        print(f"  skills without a rule (gaps are shown, nothing assigned): {', '.join(unruled)}")
    if mapping.protected:
        print(f"  protected employees: {len(mapping.protected)}")
    _warn_open_goals(mapping)
    if args.online:
        from connector.commands import online_checks

        return online_checks(mapping)
    return 0


def _warn_open_goals(mapping: Mapping) -> None:
    """Warn about rules open goals depend on that the file changed (when the configured
    database exists and is reachable; `check` works without one)."""
    from connector.operations.mapping_edits import open_goal_warnings
    from connector.store import Store

    store = Store.open_existing(load_settings().database_url)
    if store is None:
        return
    try:
        for line in open_goal_warnings(store, mapping):
            print(f"  warning: {line}")
    finally:
        store.close()


def cmd_plan(args: argparse.Namespace) -> int:
    mapping, name = resolve_mapping(args.mapping)
    reviews = read_reviews(args.reviews, source=args.source, skill_matcher=mapping.is_known_skill,
                           bounds=rating_bounds(mapping))
    return _plan_and_report(
        reviews, mapping, name, today=args.today, as_json=args.json,
        allow_partial=args.allow_partial,
    )


def cmd_demo(args: argparse.Namespace) -> int:
    if not args.plan_only:
        from connector.demo.run import run_demo

        return run_demo(args.database, keep_running=args.keep_running,
                        employees=args.employees, quiet=args.quiet,
                        cast={"lms": args.lms, "goals": args.goals, "reviews": args.reviews,
                              "completions": args.completions})
    mapping = load_mapping_text(_built_in_mapping_text(), BUILT_IN_MAPPING)
    path = _package_file("connector", "examples", "reviews.csv")
    print(f"Planning the example reviews ({path.name}) against {BUILT_IN_MAPPING}.\n")
    reviews = read_reviews(path, source="csv", skill_matcher=mapping.is_known_skill,
                           bounds=rating_bounds(mapping))
    return _plan_and_report(
        reviews, mapping, BUILT_IN_MAPPING, today=None, as_json=False, allow_partial=False
    )


# Pieces


def _add_mapping_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mapping", metavar="FILE",
        help="mapping file (default: CONNECTOR_MAPPING_FILE, else the bundled example)",
    )


def resolve_mapping(path: str | None) -> tuple[Mapping, str]:
    """--mapping, else CONNECTOR_MAPPING_FILE, else the example mapping shipped with the package.

    The settings default (`mappings/example.toml`) is relative to the working directory; when
    no such file is there, the packaged copy is used so the command works from anywhere (also
    when `.env` names that default, as a copied `config.example.env` does).
    """
    if path:
        return load_mapping(path), path
    settings = load_settings()
    configured = settings.mapping_file
    default = type(settings).model_fields["mapping_file"].default
    chosen = "mapping_file" in settings.model_fields_set and configured != default
    if chosen or configured.is_file():  # a copied config.example.env names the default
        return load_mapping(configured), str(configured)
    return load_mapping_text(_built_in_mapping_text(), BUILT_IN_MAPPING), BUILT_IN_MAPPING


def _built_in_mapping_text() -> str:
    return _package_file("mappings", "example.toml").read_text(encoding="utf-8")


def _package_file(package: str, *parts: str) -> Path:
    """A data file shipped inside a package, found from any working directory.

    importlib.resources first; a stale editable install can make the package look like a
    namespace package, which importlib.resources cannot read, so fall back to the module path.
    """
    try:
        with resources.as_file(resources.files(package).joinpath(*parts)) as path:
            if path.is_file():
                return path
    except (OSError, TypeError):
        pass
    here = Path(__file__).resolve().parent.parent  # the directory holding connector/, mappings/
    return here.joinpath(package.replace(".", "/"), *parts)


def _plan_and_report(
    reviews: ReviewFile,
    mapping: Mapping,
    mapping_name: str,
    *,
    today: date | None,
    as_json: bool,
    allow_partial: bool,
) -> int:
    planner = Planner(mapping, LedgerView.empty(), today=today or datetime.now(UTC).date())
    plans: list[Plan] = []
    with reviews:
        plans.extend(planner.plan_review(review) for review in reviews)
    warnings = planner.bulk_limit_problems()
    if reviews.ignored_columns:
        warnings.append(
            "ignored columns (not known headers or skills): " + ", ".join(reviews.ignored_columns)
        )
    warnings.extend(str(w) for w in reviews.warnings)
    if as_json:
        _write_json(sys.stdout, plans, reviews, mapping_name, warnings)
    else:
        _write_table(sys.stdout, plans, reviews, mapping_name, warnings)
    if reviews.errors and not allow_partial:
        print(
            f"error: {len(reviews.errors)} row(s) of {reviews.path} were rejected; fix them, or "
            "pass --allow-partial to accept the plan for the rest",
            file=sys.stderr,
        )
        return InputError.exit_code
    return 0


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def _flatten(plans: list[Plan]) -> tuple[list[PlanAction], list[Unmapped], list[Skipped]]:
    actions = [a for p in plans for a in p.actions]
    unmapped = [u for p in plans for u in p.unmapped]
    skipped = distinct_skips(s for p in plans for s in p.skipped)  # each skipped item once
    return actions, unmapped, skipped


def _summary(plans: list[Plan], reviews: ReviewFile) -> dict[str, int]:
    actions, unmapped, skipped = _flatten(plans)
    return {
        "reviews": len(plans),
        "learners": sum(a.kind is ActionKind.ENSURE_LEARNER for a in actions),
        "enrollments": sum(a.kind is ActionKind.ENROLL for a in actions),
        "goals": sum(a.kind is ActionKind.OPEN_GOAL for a in actions),
        "unmapped": len(unmapped),
        "skipped": len(skipped),
        "rejected_rows": len(reviews.errors),
        "people_by_email": len({a.employee.employee_id for a in actions
                                if a.employee.keyed_by_email}),
    }


def _resolve_by(action: PlanAction) -> str:
    """How the person will be found in the other systems: "email" when the file gave no id."""
    return "email" if action.employee.keyed_by_email else "employee_id"


def _who(action: PlanAction) -> str:
    employee = action.employee
    if employee.keyed_by_email:
        name = employee.display_name
        if name == employee.email:
            return f"{employee.email} (by email)"
        return f"{name} ({employee.email}, by email)"
    return f"{employee.display_name} ({employee.employee_id})"


def _write_json(
    out: TextIO, plans: list[Plan], reviews: ReviewFile, mapping_name: str, warnings: list[str]
) -> None:
    actions, unmapped, skipped = _flatten(plans)
    document: dict[str, Any] = {
        "mapping": mapping_name,
        "reviews_file": str(reviews.path),
        "summary": _summary(plans, reviews),
        "actions": [{"key": a.key, **a.model_dump(mode="json"), "resolve_by": _resolve_by(a)}
                    for a in actions],
        "unmapped": [u.model_dump(mode="json") for u in unmapped],
        "skipped": [s.model_dump(mode="json") for s in skipped],
        "rejected_rows": [
            {"path": e.path, "row_number": e.row_number, "reason": e.reason}
            for e in reviews.errors
        ],
        "warnings": warnings,
    }
    json.dump(document, out, indent=2, ensure_ascii=False)
    out.write("\n")


def _write_table(
    out: TextIO, plans: list[Plan], reviews: ReviewFile, mapping_name: str, warnings: list[str]
) -> None:
    actions, unmapped, skipped = _flatten(plans)
    titles = {str(a.goal): a.goal_title or "" for a in actions if a.kind is ActionKind.OPEN_GOAL}
    enrolled_goals = {str(a.goal) for a in actions if a.kind is ActionKind.ENROLL}
    rows: list[list[str]] = []
    for action in actions:
        if action.kind is ActionKind.ENSURE_LEARNER:
            continue
        if action.kind is ActionKind.OPEN_GOAL and str(action.goal) in enrolled_goals:
            continue  # its courses get their own rows
        cause = action.causes[0]
        if action.kind is ActionKind.ENROLL:
            course = action.course_id or ""
        else:
            course = "(linked: " + ", ".join(action.course_ids) + ")"
        rows.append([
            _who(action),
            cause.skill_id,
            f"{show_level(cause.rating)}→{show_level(cause.target)}",
            course,
            titles.get(str(action.goal), str(action.goal)),
            action.due_date.isoformat() if action.due_date else "",
        ])
    s = _summary(plans, reviews)
    out.write(
        f"Plan (dry run, nothing changed) for {reviews.path.name} with {mapping_name}:\n"
        f"  {s['reviews']} reviews → {s['learners']} learners, {s['enrollments']} enrollments, "
        f"{s['goals']} goals; {s['unmapped']} unmapped, {s['skipped']} skipped, "
        f"{s['rejected_rows']} rejected rows\n"
    )
    if s["people_by_email"]:
        out.write(
            f"  {s['people_by_email']} people given by email only: each will be resolved by "
            "email (matched to their HR and LMS records by email address)\n"
        )
    out.write("\n")
    header = ["Employee", "Skill", "Rating→Target", "Course", "Goal", "Due"]
    out.write(_table(header, rows) if rows else "No assignments.\n")
    if unmapped:
        out.write(f"\nUnmapped ({len(unmapped)}): shown, nothing assigned\n")
        out.write(_table(
            ["Employee", "Review", "Skill as rated", "Reason"],
            [[u.employee_id, u.review_id, u.skill_key, u.reason] for u in unmapped],
        ))
    if skipped:
        out.write(f"\nSkipped ({len(skipped)})\n")
        out.write(_table(
            ["Employee", "Review", "Skill", "Course", "Reason"],
            [[k.employee_id, k.review_id, k.skill_id, k.course_id or "(goal not opened)",
              k.reason]
             for k in skipped],
        ))
    if reviews.errors:
        out.write(f"\nRejected rows ({len(reviews.errors)})\n")
        out.writelines(f"  {line}\n" for line in describe(reviews.errors))
    for warning in warnings:
        out.write(f"\nwarning: {warning}\n")


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, ["-" * w for w in widths], *rows]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
