"""`connector demo`: the whole loop, for real, against the sandbox vendors on loopback.

Starts the sandbox of each vendor in the cast (by default the LMS, the goal tracker with its
directory, and the review source the registry names in `DEFAULT_ROLES`), seeds an organisation
(60 people in 3 roles, one finished review cycle), then runs the product exactly as in
production — the directory read, the review poller, the worker, the completion poller — and
ends with a summary, the trace of one employee and a check of the vendors' end state against
the ledger.
"""

from __future__ import annotations

import json
import os
import random
import shlex
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connector.demo.checks import format_summary, summarise
from connector.demo.org import make_org
from connector.demo.sandboxes import Sandboxes, demo_roles, sandbox_settings, start_sandboxes
from connector.errors import InputError, SafetyStop
from connector.pollers import poll_completions, poll_reviews, sync_directory
from connector.progress import for_run
from connector.runtime import Runtime, build_runtime
from connector.store import AssignmentState, GoalState, Store
from connector.vendors.registry import Role, title
from connector.worker import Worker

DEMO_MARKER = "demo.database"
DEMO_CONSOLE_USER = "hr.demo"


def complete_some_courses(sb: Sandboxes, store: Store, rng: random.Random) -> tuple[int, int]:
    """Learners finish about half of their courses in the LMS; a few fail first. With a
    completion source in the cast (a record store), the LMS reports each result there."""
    lms = sb.playing(Role.COMPLETIONS) if Role.COMPLETIONS in sb.roles else sb.playing(Role.LMS)
    done = failed = 0
    for row in store.assignments_for(state=AssignmentState.ENROLLED):
        identity = store.identity(row.employee_id)
        if not identity or not identity.lms_user_id or rng.random() > 0.55:
            continue
        score = rng.randint(70, 100)
        if rng.random() < 0.1:
            lms.complete(identity.lms_user_id, row.course_id, passed=False, score=40,
                         completed_at=datetime.now(UTC) - timedelta(hours=1))
            failed += 1
        lms.complete(identity.lms_user_id, row.course_id, passed=True, score=score)
        done += 1
    return done, failed


def _say(text: str) -> None:
    print(text, flush=True)


def prepare_database(path: Path) -> str:
    """A fresh demo database; an existing non-demo database is never overwritten."""
    url = f"sqlite:///{path}"
    if path.exists():
        if not Store.sqlite_file_has_event(path, DEMO_MARKER):  # read-only: a foreign file is
            # left exactly as it was
            raise InputError(f"{path} exists and was not made by the demo; move it away or "
                             "pass --database PATH")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = Store.open(url)
    store.audit(None, None, DEMO_MARKER, "database made by `connector demo` (safe to replace)")
    store.close()
    return url


def run_demo(database: Path, *, keep_running: bool = False, employees: int = 60,
             seed: int = 7, quiet: bool = False,
             cast: dict[str, str | None] | None = None) -> int:
    """`cast` picks the vendor playing each part by role value (`lms`, `goals`, `reviews`);
    a part left out or None plays the settings' default."""
    started = time.monotonic()
    roles = demo_roles(cast or {})
    url = prepare_database(database)
    sb = start_sandboxes(roles)
    try:
        _say(f"▶ started sandbox {sb.titles()} on loopback")
        org = make_org(employees=employees, seed=seed)
        for sim in sb.sims.values():
            sim.seed(org)
        _say(f"  seeded {len(org.people)} employees in {len(org.roles)} roles, one finished "
             f"review cycle, a {len(org.courses)}-course catalogue")
        rt = build_runtime(sandbox_settings(sb, url))
        worker = Worker(rt.ctx)
        lms, goals, reviewer = (title(sb.roles[r]) for r in (Role.LMS, Role.GOALS, Role.REVIEWS))
        if rt.directory is not None:
            _say(f"▶ reading the {title(rt.directory.name)} directory")
            sync_directory(rt.store, rt.directory, max_leaver_share=0.05,
                           id_spaces=rt.ctx.id_spaces)
            worker.drain()
            _say(f"  {len(org.people)} people listed, each with their own "
                 f"{title(rt.directory.name)} id; linked to the reviews' people by email")
        _say(f"▶ polling {reviewer} for finished reviews")
        reviews = 0
        for source in rt.review_sources:
            try:
                reviews += poll_reviews(rt.store, source, limits=(rt.settings, rt.ctx.mapping))
            except SafetyStop as stop:
                _say(f"  ⚠ safety limit: {stop}")
                _say("  (in production a person reads it with `connector stops show` and "
                     "confirms it; the demo confirms the stored batch for you)")
                reviews += poll_reviews(rt.store, source, limits=(rt.settings, rt.ctx.mapping),
                                        confirm=True)
        _say(f"  {reviews} reviews queued; finding gaps, assigning courses, opening goals…")
        with for_run("reviews", "jobs", rt.store, quiet=quiet) as progress:
            stats = worker.drain(concurrency=2, progress=progress)
        _say(f"  {stats.done} jobs done, {stats.retried} retried, {stats.dead} dead")
        _say(f"▶ learners complete courses in {lms} (about half; a few fail first)")
        done, failed = complete_some_courses(sb, rt.store, random.Random(seed))
        _say(f"  {done} completions, {failed} failed attempts")
        polled = title(sb.roles.get(Role.COMPLETIONS, sb.roles[Role.LMS]))
        _say(f"▶ polling {polled} for completions; posting evidence in {goals}, moving and "
             "closing goals")
        sources = rt.completion_sources or [_require(rt.lms)]
        new = sum(poll_completions(rt.store, source)[0] for source in sources)
        with for_run("completions", "jobs", rt.store, quiet=quiet) as progress:
            stats = worker.drain(concurrency=2, progress=progress)
        _say(f"  {new} completion events; {stats.done} jobs done, {stats.dead} dead")
        summary = summarise(rt, sb)
        _say(format_summary(summary))
        _show_trace(rt)
        prefix = "" if database == Path("connector.db") else f"CONNECTOR_DATABASE_URL={url} "
        command = _connector_command()
        _say(f"\nfinished in {time.monotonic() - started:.1f} s. Explore with:\n"
             f"  {prefix}{command} status\n"
             f"  {prefix}{command} trace {summary['example_employee']}")
        ok = summary["checks_ok"]
        if keep_running:
            env_file = write_demo_env(sb, f"sqlite:///{database.resolve()}")
            _say(explore_with(env_file, command))
            _keep_running(rt, sb)
        rt.close()
        return 0 if ok else 1
    finally:
        sb.stop()


def demo_env(sb: Sandboxes, database_url: str) -> dict[str, str]:
    """Every variable that points `connector` at the running sandboxes, credentials
    included: each sandbox's `settings()` as `CONNECTOR_<NAME>`, the cast and the database."""
    values: dict[str, Any] = {"database_url": database_url, "lms": sb.roles[Role.LMS],
                              "goal_tracker": sb.roles[Role.GOALS],
                              "review_sources": sb.roles[Role.REVIEWS]}
    for sim in sb.sims.values():
        values.update(sim.settings())
    return {f"CONNECTOR_{name.upper()}": str(value) for name, value in values.items()}


def write_demo_env(sb: Sandboxes, database_url: str, directory: Path | None = None) -> Path:
    """`demo.env` in `directory` (the working directory): the running sandboxes' settings,
    owner-only (0600, it holds their keys). An existing file is never overwritten: the next
    free `demo-N.env` is used instead."""
    folder = directory or Path.cwd()
    settings = [f"{name}={shlex.quote(value)}\n" for name, value in demo_env(
        sb, database_url).items()]
    for n in range(1, 100):
        path = folder / ("demo.env" if n == 1 else f"demo-{n}.env")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("# Written by `connector demo --keep-running`: the sandboxes it left "
                      "running,\n# valid while that demo runs. Use it from this directory:\n"
                      f"#   set -a; . ./{path.name}; set +a; connector status\n")
            out.writelines(settings)
        return path
    raise InputError(f"{folder}: demo.env … demo-99.env all exist; remove old ones")


def explore_with(env_file: Path, command: str) -> str:
    """What to type in another shell to use the running sandboxes, and what is in the file
    (sandbox credentials only, so printing them is fine)."""
    shown = env_file.name if env_file.parent == Path.cwd() else str(env_file)
    settings = "".join(f"\n  {line.rstrip()}" for line in env_file.read_text(
        encoding="utf-8").splitlines() if line.startswith("CONNECTOR_"))
    return (f"\nwrote {shown} (owner-only) with everything needed to reach the sandboxes:"
            f"{settings}\nIn another shell, from this directory:\n"
            f"  set -a; . ./{shown}; set +a; {command} status")


def _connector_command() -> str:
    """How this user runs `connector`: on PATH, else from the virtualenv we run in."""
    import shutil

    if shutil.which("connector"):
        return "connector"
    local = Path(sys.executable).parent / "connector"
    try:
        return str(local.relative_to(Path.cwd()))
    except ValueError:
        return str(local)


def _require(value: Any) -> Any:
    if value is None:
        raise InputError("the demo needs an LMS configured")
    return value


def _show_trace(rt: Runtime) -> None:
    from connector.commands import format_trace, trace_report

    closed = [g for r in rt.store.all_identities()
              for g in rt.store.goals_for(r.employee_id, state=GoalState.CLOSED)]
    if closed:
        _say(f"\n━━ trace of employee {closed[0].employee_id} ━━")
        _say(format_trace(trace_report(rt.store, closed[0].employee_id)))


def _keep_running(rt: Runtime, sb: Sandboxes) -> None:
    """The sandboxes, the service and the operator console keep running, with a sign-in made
    for this run only (a random password, shown once, held as an Argon2 hash)."""
    import secrets as random_secrets

    from connector.console.users import UserDirectory, hash_password, parse_users
    from connector.service import Service

    password = random_secrets.token_hex(8)  # letters and digits only: easy to copy
    entry = f"{DEMO_CONSOLE_USER}:operator:{hash_password(password)}"
    users = UserDirectory(lambda: parse_users(entry))
    service = Service(rt, port=0, poll_seconds=10, console_port=0, console_users=users,
                      console_demo=True)
    url = service.start()
    _say(json.dumps({"connector": url, "console": f"{service.console_url}/console",
                     **{name: sim.url for name, sim in sb.sims.items()}}, indent=2))
    _say(f"operator console: {service.console_url}/console — sign in as "
         f"{DEMO_CONSOLE_USER} with password {password} (made for this run only)")
    _say("the sandboxes, the service and the console keep running; Ctrl-C stops")
    stop = threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
    service.stop()
