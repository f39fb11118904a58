"""What is worth telling a person, read from the store: each occurrence has a stable key so
it is sent once, and a line of text for the message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

from connector.store import ApprovalState, BatchState, Store

SHOWN = 10  # ids listed in one message; the rest are counted


@dataclass(frozen=True, slots=True)
class Occurrence:
    key: str  # stable: the same stop, dead letter or wait always has the same key
    label: str  # how the message names it: an id, never a name or an e-mail address


@dataclass(frozen=True, slots=True)
class Kind:
    """A family of occurrences: where to act on them, and how a message heads them."""

    name: str
    page: str  # the console page, relative to CONNECTOR_CONSOLE_URL
    heading: Callable[[int], str]
    read: Callable[[Store, float, float], list[Occurrence]]


def _stops(store: Store, _now: float, _grace: float) -> list[Occurrence]:
    return [Occurrence(f"stop:{b.id}", f"stop #{b.id} from {b.source} ({'; '.join(b.reasons)})")
            for b in store.staged_batches(BatchState.WAITING)]


def _dead_letters(store: Store, _now: float, _grace: float) -> list[Occurrence]:
    # A replayed job that dies again is a new occurrence: its finishing time is in the key.
    return [Occurrence(f"job:{d.id}:{d.finished_at or 0:.0f}", f"job #{d.id} ({d.kind})")
            for d in store.jobs.dead_letters(limit=10_000)]


def _identities(store: Store, _now: float, _grace: float) -> list[Occurrence]:
    return [Occurrence(f"employee:{i.employee_id}", f"employee {i.employee_id}")
            for i in store.identities_waiting()]


def _approvals(store: Store, _now: float, _grace: float) -> list[Occurrence]:
    return [Occurrence(f"approval:{a.id}", f"plan #{a.id} (employee {a.employee_id})")
            for a in store.approvals_list(ApprovalState.PENDING)]


def _pollers(store: Store, now: float, grace: float) -> list[Occurrence]:
    """Pollers whose last attempt failed and that have not succeeded for `grace` seconds.
    One failing spell is one occurrence: its key is the last success before it."""
    found = []
    for p in store.pollers():
        if not p.last_error:
            continue
        since = p.last_success_at
        if since is not None and now - since.timestamp() < grace:
            continue
        when = since.astimezone(UTC).isoformat(timespec="seconds") if since else "never"
        found.append(Occurrence(f"poller:{p.name}:{when}",
                                f"{p.name} (last success {when}): {p.last_error}"))
    return found


KINDS: tuple[Kind, ...] = (
    Kind("stop", "/console/stops",
         lambda n: f"{n} safety stop{'s' if n > 1 else ''} waiting for a person", _stops),
    Kind("dead_letter", "/console/dead-letters",
         lambda n: f"{n} new dead letter{'s' if n > 1 else ''}", _dead_letters),
    Kind("identity", "/console/identities",
         lambda n: f"{n} employee{'s' if n > 1 else ''} waiting for an identity match",
         _identities),
    Kind("approval", "/console/approvals",
         lambda n: f"{n} plan{'s' if n > 1 else ''} waiting for approval", _approvals),
    Kind("poller", "/console",
         lambda n: f"{n} poller{'s' if n > 1 else ''} failing", _pollers),
)

