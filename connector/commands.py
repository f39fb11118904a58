"""Operating commands: the database, the worker, status, trace, dead letters, imports, sync,
identities and approvals. Registered on the `connector` parser by `register()`.

Each command reads settings from the environment / `.env`, opens the store (applying pending
migrations, as every process does at start), and prints for people or, with `--json`, for
machines. Exit codes follow the CLI: 0 ok, 1 runtime failure, 2 bad input or a safety stop.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connector.errors import ConnectorError, InputError
from connector.settings import Settings, load_settings
from connector.store import ApprovalState, MatchState, Store
from connector.store import migrations as store_migrations
from connector.store.engine import make_engine, redact_url


def register(sub: Any) -> None:
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser("upgrade", help="apply pending migrations (safe to run twice)")
    db.set_defaults(func=cmd_db)

    worker = sub.add_parser("worker", help="run queued jobs until stopped")
    worker.add_argument("--concurrency", type=int, default=None, help="jobs at once (threads)")
    worker.add_argument("--drain", action="store_true",
                        help="exit when no job is runnable instead of waiting for more")
    worker.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                        help="serve /metrics on this port (CONNECTOR_METRICS_HOST, default "
                             "127.0.0.1; CONNECTOR_METRICS_PORT; 0 picks a free one)")
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
    dead.set_defaults(func=cmd_dead_letters)

    imp = sub.add_parser("import", help="queue the reviews of a CSV/JSON file for sync")
    imp.add_argument("--reviews", required=True, type=Path)
    imp.add_argument("--allow-partial", action="store_true",
                     help="queue the good rows even when some rows were rejected")
    imp.add_argument("--confirm", action="store_true",
                     help="go ahead although the run exceeds a safety limit")
    imp.set_defaults(func=cmd_import)

    ident = sub.add_parser("identities", help="the identity review queue")
    ident_sub = ident.add_subparsers(dest="id_command", metavar="ACTION", required=True)
    ident_sub.add_parser("pending", help="employees without a clear LMS match")
    link = ident_sub.add_parser("link", help="link an employee to an LMS user")
    link.add_argument("employee")
    link.add_argument("lms_user")
    ign = ident_sub.add_parser("ignore", help="never assign anything to this employee")
    ign.add_argument("employee")
    ident.set_defaults(func=cmd_identities)

    appr = sub.add_parser("approvals", help="plans waiting for approval")
    appr_sub = appr.add_subparsers(dest="ap_command", metavar="ACTION", required=True)
    appr_sub.add_parser("list", help="pending approvals")
    for verb in ("approve", "reject"):
        p = appr_sub.add_parser(verb, help=f"{verb} a plan (or --all)")
        p.add_argument("id", nargs="?", type=int)
        p.add_argument("--all", action="store_true")
        p.add_argument("--by", default=None, help="who decides (default: $USER)")
    appr.set_defaults(func=cmd_approvals)


def register_service(sub: Any) -> None:
    serve = sub.add_parser("serve", help="receiver + worker + pollers in one process")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.set_defaults(func=cmd_serve)

    sync = sub.add_parser("sync", help="poll every source, drain the queue, print a summary")
    sync.add_argument("--once", action="store_true", required=True,
                      help="run one round and exit (non-zero when anything failed)")
    sync.add_argument("--confirm", action="store_true",
                      help="go ahead although the run exceeds a safety limit")
    sync.set_defaults(func=cmd_sync)


def cmd_serve(args: argparse.Namespace) -> int:
    from connector.observability.logging import configure_logging
    from connector.runtime import build_runtime
    from connector.service import Service

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    service = Service(build_runtime(settings), host=args.host, port=args.port)
    stop = threading.Event()
    _stop_on_signals(stop)
    url = service.start()
    print(f"serving on {url} (webhooks at {url}/webhooks/<source>); Ctrl-C stops",
          file=sys.stderr)
    stop.wait()
    service.stop()
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    from connector.runtime import build_runtime
    from connector.service import sync_once

    settings = load_settings()
    summary = sync_once(build_runtime(settings), confirm=args.confirm,
                        concurrency=settings.worker_concurrency)
    print(summary.text())
    return 1 if summary.failed else 0


def register_history(sub: Any) -> None:
    backfill = sub.add_parser("backfill", help="read past completions from the LMS as history")
    backfill.add_argument("--since", required=True, type=_iso_date,
                          help="earliest completion date to keep (YYYY-MM-DD)")
    backfill.set_defaults(func=cmd_backfill)


def _iso_date(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2026-01-31, got {text!r}") \
            from None


def cmd_backfill(args: argparse.Namespace) -> int:
    """Past passes and failures, with their original dates, into the ledger's history.

    Nothing is assigned or posted: later goals see these as prior completions (ignored, or
    accepted within a rule's window), so a first run does not assign what was just completed.
    """
    from connector.executor import Executor
    from connector.runtime import build_runtime

    rt = build_runtime(load_settings())
    lms = rt.lms
    if lms is None or not hasattr(lms, "learner_history"):
        raise InputError("backfill needs an LMS that keeps learner history (TalentLMS)")
    if rt.directory is not None:
        employees, _ = rt.directory.list_employees()
        for employee in employees:
            rt.store.upsert_employee(employee)
    executor = Executor(rt.ctx)
    kept = learners = 0
    for row in rt.store.all_identities():
        learner = executor.linked_learner(row.employee_id)
        if learner is None:
            found = lms.find_learner(rt.store.employee_of(row))
            if found is None:
                continue
            rt.store.set_identity(row.employee_id, state=MatchState.LINKED,
                                  lms_user_id=found.lms_user_id, note="matched (backfill)")
            learner = found
        learners += 1
        for event in lms.learner_history(learner):
            if event.completed_at >= args.since:
                kept += rt.store.record_completion(event, row.employee_id)
    rt.store.audit(None, None, "backfill", f"backfill since {args.since.date()}: {kept} past "
                   f"completion(s) of {learners} learner(s) kept as history")
    print(f"{kept} past completion(s) of {learners} learner(s) recorded as history")
    return 0


def online_checks(mapping: Any) -> int:
    """`connector check --online`: each configured vendor answers, with what it says."""
    from connector.runtime import build_runtime

    rt = build_runtime(load_settings(), mapping=mapping)
    failures = 0
    lms = rt.lms
    if lms is not None and hasattr(lms, "check_online"):
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


def _open(settings: Settings | None = None) -> tuple[Settings, Store]:
    settings = settings or load_settings()
    return settings, Store.open(settings.database_url, max_attempts=settings.job_max_attempts)


# -- db ---------------------------------------------------------------------------------
def cmd_db(args: argparse.Namespace) -> int:
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
    from connector.observability.logging import configure_logging
    from connector.runtime import build_runtime
    from connector.worker import Worker

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    rt = build_runtime(settings)
    port = settings.metrics_port if args.metrics_port is None else args.metrics_port
    if port is not None:
        from connector.observability.metrics import serve_worker_metrics

        print(f"metrics on {serve_worker_metrics(rt.store, port, settings.metrics_host)}",
              file=sys.stderr)
    worker = Worker(rt.ctx, lease_seconds=settings.job_lease_seconds)
    concurrency = args.concurrency or settings.worker_concurrency
    if args.drain:
        stats = worker.drain(concurrency=concurrency)
        print(f"done {stats.done}, retried {stats.retried}, dead {stats.dead}")
        return 1 if stats.dead else 0
    stop = threading.Event()
    _stop_on_signals(stop)
    worker.run_forever(stop, concurrency=concurrency)
    return 0


def _stop_on_signals(stop: threading.Event) -> None:
    import signal

    def handler(signum: int, _frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)


# -- status -----------------------------------------------------------------------------
def status_report(store: Store) -> dict[str, Any]:
    counts = store.jobs.counts()
    return {
        "jobs": {s: counts.get(s, 0) for s in ("pending", "running", "done", "dead")},
        "oldest_pending_seconds": store.jobs.oldest_pending_age(),
        "dead_letters": len(store.jobs.dead_letters(limit=10_000)),
        "pollers": [
            {"name": p.name,
             "last_success": p.last_success_at.isoformat() if p.last_success_at else None,
             "last_error": p.last_error} for p in store.pollers()],
        "identities_pending": len(store.identities_in_state(MatchState.PENDING)),
        "approvals_pending": len(store.approvals_list(ApprovalState.PENDING)),
        "assignments": len(store.assignments_for()),
    }


def cmd_status(args: argparse.Namespace) -> int:
    _, store = _open()
    report = status_report(store)
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
    print(f"plans waiting for approval: {report['approvals_pending']}")
    for p in report["pollers"]:
        line = f"poller {p['name']}: last success {p['last_success'] or 'never'}"
        if p["last_error"]:
            line += f"; last error: {p['last_error']}"
        print(line)
    return 0


# -- trace ------------------------------------------------------------------------------
def trace_report(store: Store, employee_id: str) -> dict[str, Any]:
    identity = store.identity(employee_id)
    if identity is None:
        raise InputError(f"employee {employee_id!r} is not known to the connector")
    return {
        "employee": {k: _plain(v) for k, v in asdict(identity).items()},
        "goals": [{k: _plain(v) for k, v in asdict(g).items()}
                  for g in store.goals_for(employee_id)],
        "assignments": [{k: _plain(v) for k, v in asdict(a).items()}
                        for a in store.assignments_for(employee_id)],
        "completions": [{k: _plain(v) for k, v in asdict(c).items()}
                        for c in store.completions_for(employee_id)],
        "audit": [{"at": _plain(a.at), "event": a.event, "message": a.message,
                   "cause": a.cause, "ref": a.ref} for a in store.audit_trail(employee_id)],
    }


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def format_trace(report: dict[str, Any]) -> str:
    e = report["employee"]
    name = " ".join(p for p in (e.get("first_name"), e.get("last_name")) if p) or "-"
    lines = [f"{e['employee_id']}  {name}  <{e.get('email') or '-'}>  role {e.get('role') or '-'}",
             f"  LMS user: {e.get('lms_user_id') or '-'} ({e['match_state']})"
             + ("" if e.get("active", True) else "  [left]")]
    for g in report["goals"]:
        lines.append(f"  goal {g['goal_key']}: {g['title']!r} — {g['state']}, "
                     f"{g['progress']:g} %, courses {', '.join(g['course_ids'])}")
    lines.append("  story:")
    for a in report["audit"]:
        at = (a["at"] or "")[:19].replace("T", " ")
        lines.append(f"    {at}  {a['event']:<24} {a['message']}")
        cause = a["cause"]
        if isinstance(cause, list) and cause and isinstance(cause[0], dict) \
                and "skill_id" in cause[0]:
            c = cause[0]
            lines.append(f"{'':28}because review {c['review_id']} ({c['source']}, "
                         f"{c['cycle']}) rated {c['skill_id']} {c['rating_raw']} → "
                         f"{c['rating']:g} vs target {c['target']:g} (gap {c['gap']:g}, "
                         f"rules[{c['rule_index']}])")
    return "\n".join(lines)


def cmd_trace(args: argparse.Namespace) -> int:
    _, store = _open()
    report = trace_report(store, args.employee)
    print(json.dumps(report, indent=2, default=str) if args.json else format_trace(report))
    return 0


# -- dead letters -----------------------------------------------------------------------
def cmd_dead_letters(args: argparse.Namespace) -> int:
    _, store = _open()
    if args.dl_command == "list":
        rows = store.jobs.dead_letters(limit=1000)
        if getattr(args, "json", False):
            print(json.dumps([asdict(r) for r in rows], indent=2, default=str))
            return 0
        if not rows:
            print("no dead letters")
        for r in rows:
            print(f"#{r.id} {r.kind} employee {r.employee_id or '-'} after "
                  f"{r.attempts} attempt(s): {r.last_error}")
        return 0
    if args.all == (args.id is not None):
        raise InputError("replay takes a dead-letter ID or --all (one of the two)")
    n = store.jobs.replay(None if args.all else args.id)
    if n == 0 and args.id is not None:
        raise InputError(f"no dead letter #{args.id}")
    print(f"queued {n} job(s) again; a worker will run them")
    return 0


# -- import -----------------------------------------------------------------------------
def cmd_import(args: argparse.Namespace) -> int:
    from connector.imports import import_reviews

    settings, store = _open()
    result = import_reviews(store, settings, args.reviews, allow_partial=args.allow_partial,
                            confirm=args.confirm)
    print(result.summary())
    return result.exit_code


# -- identities -------------------------------------------------------------------------
def cmd_identities(args: argparse.Namespace) -> int:
    _, store = _open()
    try:  # closed here: `main()` may run in a process that lives on (tests, a shell)
        return _identities(args, store)
    finally:
        store.close()


def _identities(args: argparse.Namespace, store: Store) -> int:
    if args.id_command == "pending":
        rows = store.identities_in_state(MatchState.PENDING)
        if not rows:
            print("no identities waiting")
        for r in rows:
            print(f"{r.employee_id}  {r.email or '-'}  {r.match_note or ''}")
        return 0
    if store.identity(args.employee) is None:
        raise InputError(f"employee {args.employee!r} is not known to the connector")
    if args.id_command == "link":
        with store.transaction() as tx:
            store.set_identity(args.employee, state=MatchState.LINKED, lms_user_id=args.lms_user,
                               note="linked by a person", tx=tx)
            store.audit(tx, args.employee, "identity.linked",
                        f"linked to LMS user {args.lms_user} by a person")
            store.jobs.enqueue(tx, "resume", {"employee_id": args.employee},
                               employee_id=args.employee)
        print(f"linked {args.employee} → LMS user {args.lms_user}; waiting work is queued")
        return 0
    with store.transaction() as tx:
        store.set_identity(args.employee, state=MatchState.IGNORED, note="ignored by a person",
                           tx=tx)
        store.audit(tx, args.employee, "identity.ignored",
                    "a person chose to ignore this employee")
    print(f"{args.employee} will be left alone")
    return 0


# -- approvals --------------------------------------------------------------------------
def cmd_approvals(args: argparse.Namespace) -> int:
    _, store = _open()
    try:
        return _approvals(args, store)
    finally:
        store.close()


def _approvals(args: argparse.Namespace, store: Store) -> int:
    import getpass

    if args.ap_command == "list":
        rows = store.approvals_list(ApprovalState.PENDING)
        if not rows:
            print("no plans waiting for approval")
        for r in rows:
            print(f"#{r.id} employee {r.employee_id} review {r.review_source}:"
                  f"{r.review_id}: {r.summary}")
        return 0
    if args.all == (args.id is not None):
        raise InputError(f"{args.ap_command} takes an approval ID or --all (one of the two)")
    ids = [r.id for r in store.approvals_list(ApprovalState.PENDING)] if args.all else [args.id]
    by = args.by or getpass.getuser()
    state = ApprovalState.APPROVED if args.ap_command == "approve" else ApprovalState.REJECTED
    decided = 0
    for approval_id in ids:
        row = store.decide_approval(approval_id, state, by)
        if row is None:
            raise InputError(f"no pending approval #{approval_id}")
        decided += 1
        when = datetime.now(UTC).isoformat(timespec="seconds")
        store.audit(None, row.employee_id, f"approval.{state}",
                    f"plan for review {row.review_source}:{row.review_id} {state} by "
                    f"{by} at {when}")
        if state is ApprovalState.APPROVED:
            review = json.loads(row.payload)
            store.jobs.add("review", {"review": review, "approved": True},
                           employee_id=row.employee_id)
    print(f"{state} {decided} plan(s)" + ("; a worker will carry them out"
                                          if state is ApprovalState.APPROVED else ""))
    return 0
