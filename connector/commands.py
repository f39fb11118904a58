"""Operating commands: the database, the worker, status, trace, dead letters, imports, sync,
identities and approvals. Registered on the `connector` parser by `register()`.

Each command is a thin face over `connector.operations`: it reads settings from the
environment / `.env`, opens ONE store for the run (applying pending migrations, as every
process does at start) and closes it at the end, calls the operation with plain keywords and
prints its result for people or, with `--json`, for machines. Exit codes follow the CLI: 0 ok,
1 runtime failure, 2 bad input or a safety stop (and a named approval or dead letter that is
not there to decide or replay: nothing changed).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connector.errors import ConnectorError, InputError, SafetyStop
from connector.inbound import LEAVERS
from connector.operations import approvals, dead_letters, identities, stops
from connector.operations.status import status_report
from connector.operations.trace import employee_trace
from connector.plan_summary import rule_name
from connector.planner import show_level
from connector.ports import ChecksOnline
from connector.progress import for_run
from connector.settings import Settings, load_settings
from connector.store import Approval, ApprovalState, StagedBatch, Store
from connector.store import migrations as store_migrations
from connector.store.engine import make_engine, redact_url
from connector.vendors.registry import title

QUIET_HELP = "no progress display (shown on standard error: done / total, rate, ETA)"

if TYPE_CHECKING:
    from connector.runtime import Runtime


def register(sub: Any) -> None:
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser("upgrade", help="apply pending migrations (safe to run twice)")
    db_sub.add_parser("restored", help="restored from a backup: adopt what the vendors hold "
                      "during the next full cycle instead of making it twice")
    db.set_defaults(func=cmd_db)

    worker = sub.add_parser("worker", help="run queued jobs until stopped")
    worker.add_argument("--concurrency", type=int, default=None, help="jobs at once (threads)")
    worker.add_argument("--drain", action="store_true",
                        help="exit when no job is runnable instead of waiting for more")
    worker.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                        help="serve /metrics on this port (CONNECTOR_METRICS_HOST, default "
                             "127.0.0.1; CONNECTOR_METRICS_PORT; 0 picks a free one)")
    worker.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    worker.set_defaults(func=cmd_worker)

    status = sub.add_parser("status", help="jobs by state, oldest pending, dead letters, pollers")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    trace = sub.add_parser("trace", help="the full story of one employee")
    trace.add_argument("employee")
    trace.add_argument("--json", action="store_true")
    trace.set_defaults(func=cmd_trace)

    dead = sub.add_parser("dead-letters", help="jobs that failed for good")
    dead_sub = dead.add_subparsers(dest="dl_command", metavar="ACTION", required=True)
    dead_sub.add_parser("list", help="list dead letters").add_argument("--json",
                                                                        action="store_true")
    replay = dead_sub.add_parser("replay", help="queue dead letters again")
    replay.add_argument("id", nargs="?", type=int)
    replay.add_argument("--all", action="store_true")
    _add_by_and_json(replay)
    dead.set_defaults(func=cmd_dead_letters)

    imp = sub.add_parser("import", help="queue the reviews of a CSV/JSON file for sync")
    imp.add_argument("--reviews", required=True, type=Path)
    imp.add_argument("--allow-partial", action="store_true",
                     help="queue the good rows even when some rows were rejected")
    imp.add_argument("--confirm", action="store_true",
                     help="go ahead although the run exceeds a safety limit")
    imp.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    imp.set_defaults(func=cmd_import)

    wd = sub.add_parser("withdraw", help="undo a wrong review or import: unenroll courses not "
                        "started, close or cancel its goals, keep what was earned")
    which = wd.add_mutually_exclusive_group(required=True)
    which.add_argument("--review", action="append", metavar="ID", help="a review id (repeat)")
    which.add_argument("--import", dest="import_file", type=Path, metavar="FILE",
                       help="every review of a file given to `connector import`")
    which.add_argument("--batch", type=int, metavar="ID",
                       help="every review of a batch confirmed with `connector stops confirm`")
    wd.add_argument("--source", help="the review's source, when several use the same id")
    wd.add_argument("--dry-run", action="store_true", help="print the steps, change nothing")
    wd.add_argument("--by", help="who decides (default: the login name)")
    wd.add_argument("--json", action="store_true")
    wd.set_defaults(func=cmd_withdraw)

    ident = sub.add_parser("identities", help="the identity review queue")
    ident_sub = ident.add_subparsers(dest="id_command", metavar="ACTION", required=True)
    ident_sub.add_parser("pending", help="employees without a clear LMS match").add_argument(
        "--json", action="store_true")
    link = ident_sub.add_parser("link", help="link an employee to an LMS user")
    link.add_argument("employee")
    link.add_argument("lms_user")
    _add_by_and_json(link)
    ign = ident_sub.add_parser("ignore", help="never assign anything to this employee")
    ign.add_argument("employee")
    _add_by_and_json(ign)
    ident.set_defaults(func=cmd_identities)

    appr = sub.add_parser("approvals", help="plans waiting for approval")
    appr_sub = appr.add_subparsers(dest="ap_command", metavar="ACTION", required=True)
    appr_sub.add_parser("list", help="pending approvals").add_argument("--json",
                                                                        action="store_true")
    appr_show = appr_sub.add_parser("show", help="one plan in full, with its causes")
    appr_show.add_argument("id", type=int)
    appr_show.add_argument("--json", action="store_true")
    for verb in ("approve", "reject"):
        p = appr_sub.add_parser(verb, help=f"{verb} a plan (or --all)")
        p.add_argument("id", nargs="?", type=int)
        p.add_argument("--all", action="store_true")
        _add_by_and_json(p)
    appr.set_defaults(func=cmd_approvals)

    stop_cmd = sub.add_parser("stops",
                              help="batches a safety limit stopped, waiting for a person")
    stops_sub = stop_cmd.add_subparsers(dest="stop_command", metavar="ACTION", required=True)
    stops_sub.add_parser("list", help="stops waiting for a person").add_argument(
        "--json", action="store_true")
    show = stops_sub.add_parser("show", help="a stop's plan, as it was read")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    for verb, says in (("confirm", "carry out the stored batch whose plan was shown"),
                       ("discard", "skip the batch: its reviews are marked skipped")):
        p = stops_sub.add_parser(verb, help=says)
        p.add_argument("id", type=int)
        _add_by_and_json(p)
    stop_cmd.set_defaults(func=cmd_stops)
    keys = sub.add_parser("secrets", help="the key that encrypts the credentials kept in the store")
    keys_sub = keys.add_subparsers(dest="secrets_command", metavar="ACTION", required=True)
    keys_sub.add_parser("new-key", help="print a new key for CONNECTOR_SECRETS_KEY")
    keys.set_defaults(func=cmd_secrets)


def cmd_secrets(args: argparse.Namespace) -> int:
    """Print a new Fernet key (to stdout only: nothing is stored or logged)."""
    from connector.secrets import new_key

    print(new_key())
    return 0


def _add_by_and_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", default=None,
                        help="who decides, for the audit trail (default: $USER)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _acting_person(args: argparse.Namespace) -> str:
    """`--by`, else the login name: every decision's audit row names who made it."""
    if getattr(args, "by", None):
        return str(args.by)
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without USER or passwd entry)
        return "unknown"


def _emit(args: argparse.Namespace, document: Any, text: str) -> None:
    """Print `text` for people, or `document` as JSON with `--json`."""
    if getattr(args, "json", False):
        print(json.dumps(document, indent=2, default=str))
    else:
        print(text)


@contextmanager
def _opened_store() -> Iterator[tuple[Settings, Store]]:
    """The run's one store: opened here, closed when the command ends (however it ends)."""
    settings = load_settings()
    store = Store.open(settings.database_url, max_attempts=settings.job_max_attempts)
    try:
        yield settings, store
    finally:
        store.close()


@contextmanager
def _opened_runtime(settings: Settings, **kw: Any) -> Iterator[Runtime]:
    """The product wired as configured, for one run; its store is closed when it ends."""
    from connector.runtime import build_runtime

    rt = build_runtime(settings, **kw)
    try:
        yield rt
    finally:
        rt.close()


def register_service(sub: Any) -> None:
    serve = sub.add_parser("serve", help="receiver + worker + pollers in one process")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--console-port", type=int, default=None, metavar="PORT",
                       help="also serve the operator console on this port (same --host)")
    serve.set_defaults(func=cmd_serve)

    console = sub.add_parser("console", help="the operator console alone (docs/console.md)")
    console.add_argument("--host", default="127.0.0.1")
    console.add_argument("--port", type=int, default=8081)
    console.set_defaults(func=cmd_console, console_command=None)
    console_sub = console.add_subparsers(dest="console_command", metavar="ACTION")
    console_sub.add_parser("hash-password",
                           help="hash a console password for CONNECTOR_CONSOLE_USERS")

    sync = sub.add_parser("sync", help="poll every source, drain the queue, print a summary")
    sync.add_argument("--once", action="store_true", required=True,
                      help="run one round and exit (non-zero when anything failed)")
    sync.add_argument("--confirm", action="store_true",
                      help="go ahead although the run exceeds a safety limit")
    sync.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    sync.set_defaults(func=cmd_sync)


def cmd_serve(args: argparse.Namespace) -> int:
    from connector.observability.logging import configure_logging
    from connector.runtime import build_runtime
    from connector.service import Service

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    rt = build_runtime(settings)
    try:
        service = Service(rt, host=args.host, port=args.port, console_port=args.console_port)
        stop = threading.Event()
        _stop_on_signals(stop)
        url = service.start()
        print(f"serving on {url} (webhooks at {url}/webhooks/<source>); Ctrl-C stops",
              file=sys.stderr)
        if service.console_url:
            print(f"console on {service.console_url}/console", file=sys.stderr)
        stop.wait()
        service.stop()
    finally:
        rt.close()
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    """`connector console`: the console alone; `console hash-password`: a hash for a user."""
    if args.console_command == "hash-password":
        return _hash_password()
    from werkzeug.serving import make_server

    from connector.console import create_app
    from connector.observability.logging import configure_logging

    with _opened_store() as (settings, store):
        configure_logging(settings.log_level, settings.log_format)
        server = make_server(args.host, args.port, create_app(store, settings), threaded=True)
        stop = threading.Event()
        _stop_on_signals(stop)
        thread = threading.Thread(target=server.serve_forever, name="console", daemon=True)
        thread.start()
        print(f"console on http://{args.host}:{server.server_port}/console; Ctrl-C stops",
              file=sys.stderr)
        stop.wait()
        server.shutdown()
    return 0


def _hash_password() -> int:
    """Read a password twice without echo (or once from a pipe), print its Argon2id hash."""
    from connector.console.users import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("console password: ")
        if getpass.getpass("again: ") != password:
            raise InputError("the two passwords differ; nothing was hashed")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        print(hash_password(password))
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from connector.service import sync_once

    settings = load_settings()
    with _opened_runtime(settings) as rt, \
            for_run("sync", "jobs", rt.store, quiet=args.quiet) as progress:
        summary = sync_once(rt, confirm=args.confirm, concurrency=settings.worker_concurrency,
                            progress=progress)
    print(summary.text())
    for stop in summary.poll.stops:  # the other streams ran; this one waits for a person
        print(f"safety stop: {stop}")
    if summary.failed:
        return 1
    return SafetyStop.exit_code if summary.poll.stops else 0


def register_history(sub: Any) -> None:
    backfill = sub.add_parser("backfill", help="read past completions from the LMS as history")
    backfill.add_argument("--since", required=True, type=_iso_date,
                          help="earliest completion date to keep (YYYY-MM-DD)")
    _add_by_and_json(backfill)
    backfill.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    backfill.set_defaults(func=cmd_backfill)


def _iso_date(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-01-31, got {text!r}") \
            from None


def cmd_backfill(args: argparse.Namespace) -> int:
    """Past passes and failures into the ledger's history (connector.operations.backfill)."""
    from connector.operations.backfill import backfill

    with _opened_runtime(load_settings()) as rt, \
            for_run("backfill", "learners", rt.store, quiet=args.quiet) as progress:
        result = backfill(rt, since=args.since, by=_acting_person(args), progress=progress)
    _emit(args, asdict(result) | {"changed": result.changed}, result.message)
    return 0


def online_checks(mapping: Any) -> int:
    """`connector check --online`: each configured vendor answers, with what it says."""
    with _opened_runtime(load_settings(), mapping=mapping) as rt:
        return _online_checks(rt, mapping)


def _online_checks(rt: Runtime, mapping: Any) -> int:
    failures = 0
    lms = rt.lms
    if isinstance(lms, ChecksOnline):
        report = lms.check_online(mapping.course_ids())
        if not report.get("key_ok"):
            failures += 1
            print(f"✘ {lms.name}: credential rejected or unreachable: {report.get('error')}")
        else:
            print(f"✔ {lms.name}: key accepted; rate limit {report.get('rate_remaining')} of "
                  f"{report.get('rate_limit')} left")
            missing = report.get("missing_courses") or []
            if missing:
                failures += 1
                print(f"✘ {lms.name}: course ids in the mapping that do not exist: "
                      + ", ".join(missing))
            else:
                print(f"✔ {lms.name}: all {len(mapping.course_ids())} course ids exist")
    checks: list[tuple[str, Any]] = []
    if rt.directory is not None:
        checks.append((f"{rt.directory.name} directory", rt.directory.list_employees))
    for source in rt.review_sources:
        checks.append((f"{source.name} reviews", lambda s=source: s.reviews_completed_since(
            rt.store.cursor(f"{s.name}.reviews"))))
    for name, probe in checks:
        try:
            probe()
            print(f"✔ {name}: credential accepted")
        except ConnectorError as exc:
            failures += 1
            print(f"✘ {name}: {exc}")
    return 1 if failures else 0


# -- db ---------------------------------------------------------------------------------
def cmd_db(args: argparse.Namespace) -> int:
    if args.db_command == "restored":
        from connector.operations.restore import mark_restored

        with _opened_store() as (_, store):
            print(mark_restored(store, by=_acting_person(args)).text())
        return 0
    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        applied = store_migrations.upgrade(engine)
    finally:
        engine.dispose()
    where = redact_url(settings.database_url)
    print(f"applied {', '.join(applied)} on {where}" if applied
          else f"{where} is up to date")
    return 0


# -- worker -----------------------------------------------------------------------------
def cmd_worker(args: argparse.Namespace) -> int:
    from connector.chores import chores_for, start_chores
    from connector.observability.logging import configure_logging
    from connector.runtime import build_runtime
    from connector.worker import Worker

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    rt = build_runtime(settings)
    try:
        port = settings.metrics_port if args.metrics_port is None else args.metrics_port
        if port is not None:
            from connector.observability.metrics import serve_worker_metrics

            print(f"metrics on {serve_worker_metrics(rt.store, port, settings.metrics_host)}",
                  file=sys.stderr)
        worker = Worker(rt.ctx, lease_seconds=settings.job_lease_seconds)
        concurrency = args.concurrency or settings.worker_concurrency
        if args.drain:
            with for_run("worker", "jobs", rt.store, quiet=args.quiet) as progress:
                stats = worker.drain(concurrency=concurrency, progress=progress)
            print(f"done {stats.done}, retried {stats.retried}, dead {stats.dead}")
            return 1 if stats.dead else 0
        stop = threading.Event()
        _stop_on_signals(stop)
        start_chores(chores_for(rt), stop)
        worker.run_forever(stop, concurrency=concurrency)
    finally:
        rt.close()
    return 0


def _stop_on_signals(stop: threading.Event) -> None:
    import signal

    def handler(signum: int, _frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)


# -- status -----------------------------------------------------------------------------
def cmd_status(args: argparse.Namespace) -> int:
    with _opened_store() as (settings, store):
        report = status_report(store).as_json()
    for problem in settings.setup_problems()[:1]:  # stderr: --json output stays the report
        print(f"setup: {problem}; until then nothing reaches that vendor", file=sys.stderr)
    report["goal_tracker_ids"] = goal_tracker_ids(settings)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    jobs = report["jobs"]
    print("jobs:        " + ", ".join(f"{k} {v}" for k, v in jobs.items()))
    age = report["oldest_pending_seconds"]
    print(f"oldest pending job: {'-' if age is None else f'{age:.0f} s'}")
    print(f"dead letters: {report['dead_letters']}"
          + ("  (connector dead-letters list)" if report["dead_letters"] else ""))
    print(f"assignments: {report['assignments']}")
    print(f"identities waiting for a person: {report['identities_pending']}"
          + ("  (connector identities pending)" if report["identities_pending"] else ""))
    print(f"plans waiting for approval: {report['approvals_pending']}"
          + ("  (connector approvals list)" if report["approvals_pending"] else ""))
    waiting = report["stops_waiting"]
    print(f"safety stops waiting for a person: {len(waiting)}")
    for stop in waiting:
        print(f"  stop #{stop['id']}, {stop['source']}, waiting since "
              f"{stop['since'][:16].replace('T', ' ')}; see `connector stops show "
              f"{stop['id']}`:")
        print("".join(f"    - {reason}.\n" for reason in stop["reasons"]), end="")
    drift = report.get("drift", [])
    print(f"drift found by `connector reconcile`: {len(drift)}")
    for d in drift:
        print(f"  {d['state']}: {d['message']}")
    print(f"goal tracker ids: {report['goal_tracker_ids']}")
    for p in report["pollers"]:
        line = f"poller {p['name']}: last success {p['last_success'] or 'never'}"
        if p["last_error"]:
            line += f"; last error: {p['last_error']}"
        print(line)
    return 0


def goal_tracker_ids(settings: Settings) -> str:
    """How the goal tracker's id for a person is found, as configured (no vendor call)."""
    from connector.id_spaces import IdSpaces
    from connector.runtime import directory_vendor

    spaces = IdSpaces(match_by=settings.identity_match_by, directory=directory_vendor(settings))
    tracker = None if settings.goal_tracker == "none" else settings.goal_tracker
    return spaces.describe(settings.review_source_names(), tracker)


# -- trace ------------------------------------------------------------------------------
def trace_report(store: Store, employee_id: str) -> dict[str, Any]:
    """The `trace --json` document (connector.operations.trace builds it)."""
    return employee_trace(store, employee_id=employee_id).as_json()


def format_trace(report: dict[str, Any]) -> str:
    e = report["employee"]
    name = " ".join(p for p in (e.get("first_name"), e.get("last_name")) if p) or "-"
    lines = [f"{e['employee_id']}  {name}  <{e.get('email') or '-'}>  role {e.get('role') or '-'}",
             f"  LMS user: {e.get('lms_user_id') or '-'} ({e['match_state']})"
             + ("" if e.get("active", True) else "  [left]")]
    for g in report["goals"]:
        lines.append(f"  goal {g['goal_key']}: {g['title']!r} — {g['state']}, "
                     f"{show_level(g['progress'])} %, courses {', '.join(g['course_ids'])}")
    for d in report.get("drift", []):
        lines.append(f"  drift ({d['state']}): {d['message']}")
    lines.append("  story:")
    for a in report["audit"]:
        at = (a["at"] or "")[:19].replace("T", " ")
        lines.append(f"    {at}  {a['event']:<24} {a['message']}")
        cause = a["cause"]
        if isinstance(cause, list) and cause and isinstance(cause[0], dict) \
                and "skill_id" in cause[0]:
            c = cause[0]
            lines.append(f"{'':28}because review {c['review_id']} ({title(c['source'])}, "
                         f"{c['cycle']}) rated {c['skill_id']} {_as_rated(c)}"
                         f"{show_level(c['rating'])} vs target {show_level(c['target'])} "
                         f"(gap {show_level(c['gap'])}, {rule_name(c)})")
    return "\n".join(lines)


def _as_rated(cause: dict[str, Any]) -> str:
    """The rating as the source gave it, when it says more than the level (`2 of 1-5 → `);
    nothing when it is the level itself in more digits (1.88889 is shown as 1.89)."""
    raw = str(cause.get("rating_raw") or "")
    try:
        if abs(float(raw) - float(cause["rating"])) < 1e-6:
            return ""
    except ValueError:
        pass
    return f"{raw} → " if raw else ""


def cmd_trace(args: argparse.Namespace) -> int:
    with _opened_store() as (_, store):
        report = trace_report(store, args.employee)
    print(json.dumps(report, indent=2, default=str) if args.json else format_trace(report))
    return 0


# -- dead letters -----------------------------------------------------------------------
def cmd_dead_letters(args: argparse.Namespace) -> int:
    if args.dl_command == "replay" and args.all == (args.id is not None):
        raise InputError("replay takes a dead-letter ID or --all (one of the two)")
    with _opened_store() as (_, store):
        if args.dl_command == "list":
            rows = dead_letters.list_dead_letters(store, limit=1000)
            lines = [f"#{r.id} {r.kind} employee {r.employee_id or '-'} after "
                     f"{r.attempts} attempt(s): {r.last_error}" for r in rows]
            _emit(args, [asdict(r) for r in rows], "\n".join(lines) or "no dead letters")
            return 0
        result = dead_letters.replay(store, job_id=None if args.all else args.id,
                                     by=_acting_person(args))
    _emit(args, {"replayed": [asdict(r) for r in result.replayed], "changed": result.changed},
          result.message)
    return 0


# -- import -----------------------------------------------------------------------------
def cmd_import(args: argparse.Namespace) -> int:
    """A review file into the inbox; its safety stop (`SafetyStop`, exit 2) waits for
    `--confirm` (connector.imports)."""
    from connector.imports import import_reviews

    with _opened_store() as (settings, store), \
            for_run("import", "reviews", store, quiet=args.quiet) as progress:
        result = import_reviews(store, settings, args.reviews, progress=progress,
                                allow_partial=args.allow_partial, confirm=args.confirm)
    print(result.summary())
    return result.exit_code


# -- withdraw ---------------------------------------------------------------------------
def cmd_withdraw(args: argparse.Namespace) -> int:
    """The face of connector.operations.withdraw."""
    from connector.operations.withdraw import reviews_in_batch, reviews_in_file, withdraw_reviews

    with _opened_runtime(load_settings()) as rt:
        if args.review:
            ids, source = args.review, args.source
        elif args.batch is not None:
            ids, source = reviews_in_batch(rt.store, args.batch)
        else:
            ids, source = reviews_in_file(args.import_file)
        result = withdraw_reviews(rt.ctx, ids, source=source, dry_run=args.dry_run,
                                  by=_acting_person(args))
    _emit(args, result.as_json(), result.text())
    return 0


# -- identities -------------------------------------------------------------------------
def cmd_identities(args: argparse.Namespace) -> int:
    if args.id_command == "link":  # the LMS is asked whether the user exists first
        from connector.runtime import build_lms

        with _opened_store() as (settings, store):
            decision = identities.link_identity(store, employee_id=args.employee,
                                                lms_user_id=args.lms_user,
                                                by=_acting_person(args),
                                                lms=build_lms(settings, store))
        _emit(args, asdict(decision), decision.message)
        return 0
    with _opened_store() as (_, store):
        if args.id_command == "pending":
            rows = identities.pending_identities(store)
            lines = [f"{r.employee_id}  {r.email or '-'}  {r.match_note or ''}" for r in rows]
            _emit(args, [asdict(r) for r in rows], "\n".join(lines) or "no identities waiting")
            return 0
        decision = identities.ignore_identity(store, employee_id=args.employee,
                                              by=_acting_person(args))
    _emit(args, asdict(decision), decision.message)
    return 0


# -- approvals --------------------------------------------------------------------------
def cmd_approvals(args: argparse.Namespace) -> int:
    if args.ap_command in ("approve", "reject") and args.all == (args.id is not None):
        raise InputError(f"{args.ap_command} takes an approval ID or --all (one of the two)")
    with _opened_store() as (_, store):
        if args.ap_command == "list":
            rows = approvals.pending_approvals(store)
            _emit(args, [asdict(r) for r in rows],
                  "\n".join(format_approval(r) for r in rows)
                  or "no plans waiting for approval")
            return 0
        if args.ap_command == "show":
            row = approvals.get_approval(store, approval_id=args.id)
            _emit(args, asdict(row), format_approval(row, full=True))
            return 0
        state = ApprovalState.APPROVED if args.ap_command == "approve" else \
            ApprovalState.REJECTED
        by = _acting_person(args)
        if args.all:
            decisions = approvals.decide_pending(store, state=state, by=by)
        else:
            decisions = [approvals.decide(store, approval_id=args.id, state=state, by=by)]
    if not args.all and not decisions[0].changed:
        if decisions[0].state is not state:
            # The other decision on a decided plan is refused: it was decided once, by someone.
            raise InputError(decisions[0].message)
        _emit(args, [asdict(d) for d in decisions], decisions[0].message)  # twice: harmless
        return 0
    decided = sum(d.changed for d in decisions)
    _emit(args, [asdict(d) for d in decisions],
          f"{state} {decided} plan(s)" + ("; a worker will carry them out"
                                          if state is ApprovalState.APPROVED else ""))
    return 0


# -- safety stops -----------------------------------------------------------------------
def cmd_stops(args: argparse.Namespace) -> int:
    """Batches a safety limit stopped (connector.operations.stops): list, show, confirm,
    discard. Deciding one twice is harmless (exit 0, nothing changed)."""
    with _opened_store() as (settings, store):
        if args.stop_command == "list":
            rows = stops.waiting_stops(store)
            _emit(args, [stops.stop_document(r) for r in rows],
                  "\n".join(_stop_line(r) for r in rows) or "no safety stops waiting")
            return 0
        batch = stops.get_stop(store, stop_id=args.id)
        if args.stop_command == "show":
            _emit(args, stops.stop_document(batch), format_stop(batch))
            return 0
        by = _acting_person(args)
        if args.stop_command == "confirm":
            mapping = None
            if batch.kind != LEAVERS:
                from connector.runtime import resolve_mapping_path
                from mappings.loader import load_mapping

                mapping = load_mapping(resolve_mapping_path(settings))
            decision = stops.confirm_stop(store, stop_id=args.id, by=by, mapping=mapping)
        else:
            decision = stops.discard_stop(store, stop_id=args.id, by=by)
    _emit(args, asdict(decision), decision.message)
    return 0


def _stop_line(batch: StagedBatch) -> str:
    return (f"#{batch.id} {batch.source} ({batch.kind}), since "
            f"{batch.created_at.isoformat(timespec='minutes')}: " + "; ".join(batch.reasons))


def format_stop(batch: StagedBatch) -> str:
    """`stops show`: why it stopped, one sentence per limit, and its plan as read."""
    s = batch.summary
    lines = [f"stop #{batch.id}: {batch.source} — {batch.state}, since "
             f"{batch.created_at.isoformat(timespec='minutes')}"
             + (f" (by {batch.decided_by})" if batch.decided_by else ""),
             "over the safety limit(s):"]
    lines += [f"  - {reason}." for reason in batch.reasons]
    if batch.kind == LEAVERS:
        leavers = s.get("leavers", [])
        lines.append(f"would mark {len(leavers)} of {s.get('known', 0)} employees as leavers:")
        lines += [f"  {p['employee_id']}  {p['name']}" for p in leavers]
    else:
        people = s.get("employees", [])
        lines.append(f"plan as read: {s.get('reviews', 0)} review(s) → "
                     f"{s.get('assignments', 0)} course assignment(s) and {s.get('goals', 0)} "
                     f"goal(s) for {len(people)} employee(s):")
        for p in people:
            lines.append(f"  {p['name']} ({p['employee_id']}"
                         + (f", {p['email']}" if p.get("email") else "") + ")")
            if p["courses"]:
                lines.append(f"      courses: {', '.join(p['courses'])}")
            lines += [f"      goal: {title}" for title in p["goals"]]
    if batch.state == "waiting":
        lines.append(f"`connector stops confirm {batch.id}` carries out exactly this; "
                     f"`connector stops discard {batch.id}` skips it.")
    return "\n".join(lines)


def format_approval(row: Approval, *, full: bool = False) -> str:
    """A plan as its approver reads it: who, per skill rating → target, the rule, the
    courses by title and the goal's title; `full` adds due dates and causes."""
    plan = row.plan or {}
    name = plan.get("employee") or row.employee_id
    head = (f"#{row.id} {name} ({row.employee_id}), review {row.review_id} "
            f"({row.review_source})")
    if row.state is not ApprovalState.PENDING or full:
        head += f" — {row.state}" + (f" by {row.decided_by}" if row.decided_by else "")
    if not plan.get("items"):
        return f"{head}: {row.summary}"
    lines = [head]
    for item in plan["items"]:
        courses = [f"{c['title']} ({c['id']})" for c in item["courses"]]
        goal = f"; goal {item['goal_title']!r}" if item["goal_title"] else ""
        lines.append(f"    {item['skill']}: rated {item['rating']} → target {item['target']} "
                     f"({item['rule']}); courses: {', '.join(courses) or 'none new'}{goal}")
        if full:
            linked = [f"{c['title']} ({c['id']})" for c in item.get("linked", [])]
            if linked:
                lines.append(f"        the goal links: {', '.join(linked)}")
            if item.get("due"):
                lines.append(f"        due {item['due']}")
            lines += [f"        because {cause}" for cause in item.get("causes", [])]
    if full:
        lines.append("  effects:")
        lines += [f"    {line}" for line in plan.get("lines", [])]
    return "\n".join(lines)
