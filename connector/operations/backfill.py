"""Backfill: each learner's past passes and failures, with their original dates, into the
ledger as history, before the first run.

Nothing is assigned or posted: later goals see these as prior completions (ignored, or
accepted within a rule's window), so a first run does not assign what was just completed.
The vendors are read first; the links found, the completions kept and the audit row then
commit in one transaction. A second run keeps nothing new and audits nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from connector.errors import InputError
from connector.executor import Executor
from connector.id_spaces import ledger_people
from connector.models import CompletionEvent
from connector.ports import ReadsHistory
from connector.progress import Progress
from connector.store import MatchState

if TYPE_CHECKING:
    from connector.runtime import Runtime


@dataclass(frozen=True, slots=True)
class BackfillResult:
    since: datetime
    learners: int
    kept: int
    linked: int

    @property
    def changed(self) -> bool:
        return bool(self.kept or self.linked)

    @property
    def message(self) -> str:
        text = (f"{self.kept} past completion(s) of {self.learners} learner(s) recorded as "
                "history")
        return text if self.changed else text + " (nothing new: already recorded)"


def backfill(rt: Runtime, *, since: datetime, by: str,
             progress: Progress | None = None) -> BackfillResult:
    """Read every known employee's LMS history since `since` and keep it as history."""
    lms = rt.lms
    if not isinstance(lms, ReadsHistory):
        raise InputError("backfill needs an LMS that can read learners' past completions; "
                         f"{rt.ctx.lms_name} cannot (CONNECTOR_LMS)")
    store = rt.store
    if rt.directory is not None:
        employees, _ = rt.directory.list_employees()
        if rt.ctx.id_spaces.match_by != "id":  # the directory's people, under the ledger's key
            employees = ledger_people(store, rt.directory.name, employees)
        with store.transaction() as tx:  # HR facts first: who there is to read history for
            for employee in employees:
                store.upsert_employee(employee, tx)
    executor = Executor(rt.ctx)
    links: dict[str, str] = {}
    history: list[tuple[str, CompletionEvent]] = []
    learners = 0
    people = store.all_identities()
    if progress is not None:
        progress.set_total(len(people))
    for row in people:
        if progress is not None:
            progress.advance()
        learner = executor.linked_learner(row.employee_id)
        if learner is None:
            found = lms.find_learner(store.employee_of(row))
            if found is None:
                continue
            links[row.employee_id] = found.lms_user_id
            learner = found
        learners += 1
        history += [(row.employee_id, event) for event in lms.learner_history(learner)
                    if event.completed_at >= since]
    with store.transaction() as tx:
        for employee_id, lms_user_id in links.items():
            store.set_identity(employee_id, state=MatchState.LINKED, lms_user_id=lms_user_id,
                               note="matched (backfill)", tx=tx)
        kept = sum(store.record_completion(event, employee_id, tx)
                   for employee_id, event in history)
        result = BackfillResult(since=since, learners=learners, kept=kept, linked=len(links))
        if result.changed:
            store.audit(tx, None, "backfill",
                        f"backfill since {since.date()} by {by}: {kept} past completion(s) "
                        f"of {learners} learner(s) kept as history")
    return result
