"""The console's pages and actions. Reads go through `connector.operations` (status, trace,
the queues); every action calls the same operation as the CLI command that does the same
thing, with `by=` the signed-in user, then redirects back with the operation's own message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from connector.console import course_names, mapping_page, plain, reports_page, stops_page
from connector.console.app import console
from connector.console.links import person_links
from connector.console.suggestions import suggest
from connector.errors import InputError, VendorError
from connector.operations import approvals, dead_letters, identities
from connector.operations.status import status_report
from connector.operations.trace import employee_trace
from connector.store import Approval, ApprovalState, Identity, MatchState, Store
from connector.vendors.registry import title

PEOPLE_SHOWN = 200


def register(bp: Blueprint) -> None:
    for rule, name, view, methods in (
        ("", "overview", overview, ["GET"]),
        ("/dead-letters", "dead_letters", dead_letter_list, ["GET"]),
        ("/dead-letters/<int:job_id>/replay", "replay_one", replay_one, ["POST"]),
        ("/dead-letters/replay", "replay_all", replay_all, ["POST"]),
        ("/identities", "identities", identity_list, ["GET"]),
        ("/identities/<employee>/link", "link_identity", link_identity, ["POST"]),
        ("/identities/<employee>/ignore", "ignore_identity", ignore_identity, ["POST"]),
        ("/approvals", "approvals", approval_list, ["GET"]),
        ("/approvals/<int:approval_id>/<any(approve, reject):verb>", "decide_one",
         decide_one, ["POST"]),
        ("/approvals/decide", "decide_many", decide_many, ["POST"]),
        ("/people", "people", people, ["GET"]),
        ("/people/<employee>", "person", person, ["GET"]),
        ("/identities/<employee>/suggestions", "suggestions", identity_suggestions, ["GET"]),
        ("/stops", "stops", stops_page.stop_list, ["GET"]),
        ("/stops/<int:stop_id>/confirm", "confirm_stop", operator_only(stops_page.confirm),
         ["POST"]),
        ("/stops/<int:stop_id>/discard", "discard_stop", operator_only(stops_page.discard),
         ["POST"]),
        ("/mapping", "mapping", mapping_page.mapping_page, ["GET"]),
        ("/mapping/preview", "mapping_preview", mapping_page.preview, ["POST"]),
        ("/reports", "reports", reports_page.report_list, ["GET"]),
        ("/reports/<name>.csv", "report_csv", reports_page.report_csv, ["GET"]),
    ):
        bp.add_url_rule(rule, name, view, methods=methods)
    bp.app_context_processor(lambda: {"course_label": course_names.course_label})


def _store() -> Store:
    return console().store


def operator_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """An action: only an `operator` may take it (a viewer gets 403)."""
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not g.user.can_act:
            abort(403, description=f"{g.user.name} may read the console but not act: "
                                   "ask for the operator role")
        return view(*args, **kwargs)
    return guarded


def _back(endpoint: str, message: str, category: str = "ok") -> Any:
    flash(message, category)
    return redirect(url_for(endpoint))


def full_name(identity: Identity | None) -> str:
    if identity is None:
        return "-"
    return " ".join(p for p in (identity.first_name, identity.last_name) if p) \
        or identity.email or identity.employee_id


# -- overview -------------------------------------------------------------------------------
def overview() -> Any:
    report = status_report(_store())
    pollers = [{"name": p.name, "words": plain.poller_name(p.name),
                "success": plain.ago(p.last_success_at),
                "error": plain.error_words(p.last_error) if p.last_error else None}
               for p in report.pollers]
    budgets = [{"vendor": title(b.vendor), "available": int(b.available),
                "per_hour": int(b.per_hour)} for b in _store().rate_budgets()]
    return render_template("overview.html", report=report, pollers=pollers, budgets=budgets,
                           oldest=plain.duration(report.oldest_pending_seconds),
                           job_states=plain.JOB_STATES)


# -- dead letters ---------------------------------------------------------------------------
def dead_letter_list() -> Any:
    store = _store()
    rows = dead_letters.list_dead_letters(store, limit=1000)
    return render_template("dead_letters.html", rows=[
        {"row": r, "meaning": plain.error_words(r.last_error), "when": plain.ago(r.finished_at),
         "work": plain.JOB_KINDS.get(r.kind, r.kind),
         "name": full_name(store.identity(r.employee_id)) if r.employee_id else None}
        for r in rows])


@operator_only
def replay_one(job_id: int) -> Any:
    store = _store()
    if store.jobs.job_state(job_id) is None:
        abort(404, description=f"there is no job #{job_id}")
    try:
        result = dead_letters.replay(store, job_id=job_id, by=g.user.name)
    except InputError as exc:  # no longer dead: replayed meanwhile; nothing changed
        return _back("console.dead_letters", str(exc), "note")
    return _back("console.dead_letters", result.message)


@operator_only
def replay_all() -> Any:
    result = dead_letters.replay(_store(), by=g.user.name)
    return _back("console.dead_letters",
                 result.message if result.changed else "no dead letters to replay")


# -- identities -----------------------------------------------------------------------------
def identity_list() -> Any:
    rows = identities.pending_identities(_store())
    return render_template("identities.html", rows=rows, name=full_name)


def _known(employee: str) -> None:
    if _store().identity(employee) is None:
        abort(404, description=f"employee {employee!r} is not known to the connector")


@operator_only
def link_identity(employee: str) -> Any:
    _known(employee)
    lms_user = request.form.get("lms_user_id", "").strip()
    if not lms_user:
        return _back("console.identities", f"{employee}: type the LMS user id to link to",
                     "error")
    try:  # the LMS is asked first, as `connector identities link` asks it
        decision = identities.link_identity(_store(), employee_id=employee,
                                            lms_user_id=lms_user, by=g.user.name,
                                            lms=console().lms())
    except InputError as exc:
        return _back("console.identities", str(exc), "error")
    except VendorError as exc:
        return _back("console.identities", f"{employee} was not linked: the LMS could not be "
                     f"asked whether user {lms_user} exists. {plain.error_words(str(exc))}",
                     "error")
    return _back("console.identities", decision.message)


def identity_suggestions(employee: str) -> Any:
    """LMS users the employee might be, each confirmed by the LMS (a few reads, on demand)."""
    identity = _store().identity(employee)
    if identity is None:
        abort(404, description=f"employee {employee!r} is not known to the connector")
    ctx = console()
    lms = ctx.lms()
    found = suggest(_store(), identity, lms)
    problem = found.problem if lms is not None else ctx.lms_problem
    return render_template("suggestions.html", e=identity, name=full_name(identity),
                           found=found, problem=problem,
                           lms_title=title(lms.name) if lms is not None else "the LMS")


@operator_only
def ignore_identity(employee: str) -> Any:
    _known(employee)
    decision = identities.ignore_identity(_store(), employee_id=employee, by=g.user.name)
    return _back("console.identities", decision.message)


# -- approvals ------------------------------------------------------------------------------
def _ratings(approval: Approval) -> list[str]:
    try:
        review = json.loads(approval.payload)
        ratings = review.get("ratings", [])
        return [f"{r['skill_key']} "
                + (str(r.get("label") or "-") if r.get("value") is None else f"{r['value']:g}")
                for r in ratings]
    except (ValueError, KeyError, TypeError, AttributeError):
        return []


def _plan_items(approval: Approval) -> list[dict[str, Any]]:
    """Per goal what the approver decides on (skill, rating → target, rule, the courses by
    title, the goal's title), as the review handler showed it (`plan_summary.approval_plan`);
    a plan asked for before plans were kept shows its one-line summary instead."""
    plan = approval.plan if isinstance(approval.plan, dict) else None
    items = plan.get("items") if plan else None
    if not isinstance(items, list) or not items:
        return [{"summary": approval.summary}]
    return [item for item in items if isinstance(item, dict)]


def approval_list() -> Any:
    store = _store()
    rows = [{"row": a, "name": full_name(store.identity(a.employee_id)),
             "ratings": _ratings(a), "items": _plan_items(a),
             "source": title(a.review_source)}
            for a in approvals.pending_approvals(store)]
    return render_template("approvals.html", rows=rows)


def _state(verb: str | None) -> ApprovalState:
    if verb == "approve":
        return ApprovalState.APPROVED
    if verb == "reject":
        return ApprovalState.REJECTED
    abort(400, description="choose approve or reject")


@operator_only
def decide_one(approval_id: int, verb: str) -> Any:
    store = _store()
    if store.approval(approval_id) is None:
        abort(404, description=f"there is no approval #{approval_id}")
    decision = approvals.decide(store, approval_id=approval_id, state=_state(verb),
                                by=g.user.name)
    return _back("console.approvals", decision.message, "ok" if decision.changed else "note")


@operator_only
def decide_many() -> Any:
    store = _store()
    state = _state(request.form.get("decision"))
    if request.form.get("all"):
        decisions = approvals.decide_pending(store, state=state, by=g.user.name)
    else:
        try:
            ids = sorted({int(v) for v in request.form.getlist("ids")})
        except ValueError:
            abort(400, description="the selection holds something that is not an approval id")
        if not ids:
            return _back("console.approvals", "select at least one plan first", "error")
        unknown = [i for i in ids if store.approval(i) is None]
        if unknown:
            abort(404, description=f"there is no approval #{unknown[0]}")
        decisions = [approvals.decide(store, approval_id=i, state=state, by=g.user.name)
                     for i in ids]
    decided = sum(d.changed for d in decisions)
    unchanged = len(decisions) - decided
    message = f"{state} {decided} plan(s)"
    if unchanged:
        message += f"; {unchanged} were decided already"
    return _back("console.approvals", message)


# -- people ---------------------------------------------------------------------------------
def _matches(identity: Identity, query: str) -> bool:
    q = query.casefold()
    return any(q in (v or "").casefold() for v in (
        identity.employee_id, identity.email, identity.first_name, identity.last_name,
        full_name(identity)))


def people() -> Any:
    query = request.args.get("q", "").strip()[:200]
    found = [i for i in _store().all_identities() if not query or _matches(i, query)]
    found.sort(key=lambda i: (full_name(i).casefold(), i.employee_id))
    return render_template("people.html", query=query, rows=found[:PEOPLE_SHOWN],
                           total=len(found), shown=PEOPLE_SHOWN, name=full_name)


def _external(employee: str, system: str) -> str | None:
    found = _store().external_id(employee, system)
    return found.external_id if found is not None else None


def person(employee: str) -> Any:
    try:
        trace = employee_trace(_store(), employee_id=employee)
    except InputError:
        abort(404, description=f"employee {employee!r} is not known to the connector")
    return render_template("person.html", trace=trace, name=full_name(trace.identity),
                           story=plain.story(trace.audit),
                           links=person_links(console().settings, trace, lambda system: _external(
                               employee, system)),
                           linked=trace.identity.match_state is MatchState.LINKED)
