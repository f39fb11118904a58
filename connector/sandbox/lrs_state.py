"""The LRS stand-in's data and rules: statements, voiding, stored times, paging snapshots.

Rules from xAPI 1.0.3 (shared/VENDORS-next.md, "xAPI Statements API"): `since` is exclusive
and `until` inclusive on the stored time; the default order is newest first; `more` is a
relative IRL and an empty string at the end; voided statements are never returned by a
filtered query (only by `voidedStatementId`), the voiding statement is; a voiding statement
must reference an existing, non-voiding statement (else 400); the same id again changes
nothing (409 when the content differs); two statements with one id in a batch is a 400.
`consistent_lag` makes writes visible late: statements are stored with a time up to that far
in the past, and `X-Experience-API-Consistent-Through` trails the clock by it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
SERVER_LIMIT = 100


class LrsError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def parse_time(value: str) -> float:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise LrsError(400, f"not an ISO 8601 timestamp: {value!r}") from None


def _same_agent(actor: Mapping[str, Any], agent: Mapping[str, Any]) -> bool:
    for key in ("mbox", "mbox_sha1sum", "openid"):
        if key in agent:
            return actor.get(key) == agent[key]
    if isinstance(agent.get("account"), dict):
        return actor.get("account") == agent["account"]
    return False


class LrsState:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.clear()

    def clear(self) -> None:
        self.statements: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.voided: set[str] = set()
        self.pages: dict[str, list[str]] = {}
        self.counts: dict[str, int] = {}
        self.consistent_lag = 0.0

    def count(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    def consistent_through(self) -> str:
        return iso(self.clock() - self.consistent_lag)

    # -- writing --

    def store(self, doc: Any, stored_at: float | None = None) -> list[str]:
        batch = doc if isinstance(doc, list) else [doc]
        ids = [s.get("id") for s in batch if isinstance(s, dict) and s.get("id")]
        if len(ids) != len(set(ids)):
            raise LrsError(400, "two statements in one batch share an id")
        for statement in batch:  # one bad statement rejects the whole batch
            self._check(statement)
        out = []
        for statement in batch:
            sid = statement.get("id") or str(uuid.uuid4())
            known = self.statements.get(sid)
            if known is not None:
                if {k: v for k, v in known.items() if k not in ("stored", "authority")} != \
                        {k: v for k, v in statement.items() if k not in ("stored", "authority")}:
                    raise LrsError(409, f"statement {sid} exists with other content")
                out.append(sid)
                continue
            when = stored_at if stored_at is not None else self.clock()
            kept = {**statement, "id": sid, "stored": iso(when),
                    "timestamp": statement.get("timestamp") or iso(when)}
            self.statements[sid] = kept
            self.order.append(sid)
            if statement["verb"]["id"] == VOIDED:
                self.voided.add(statement["object"]["id"])
            out.append(sid)
        return out

    def _check(self, statement: Any) -> None:
        if not isinstance(statement, dict) or not isinstance(statement.get("verb"), dict) \
                or not isinstance(statement.get("object"), dict) or "actor" not in statement:
            raise LrsError(400, "a statement needs actor, verb and object")
        if statement["verb"].get("id") == VOIDED:
            target = statement["object"]
            if target.get("objectType") != "StatementRef":
                raise LrsError(400, "a voiding statement's object must be a StatementRef")
            known = self.statements.get(str(target.get("id")))
            if known is None:
                raise LrsError(400, f"no statement {target.get('id')} to void")
            if known["verb"]["id"] == VOIDED:
                raise LrsError(400, "a voiding statement cannot be voided")

    # -- reading --

    def one(self, args: Mapping[str, str]) -> dict[str, Any]:
        sid, vid = args.get("statementId"), args.get("voidedStatementId")
        if (sid and vid) or set(args) - {"statementId", "voidedStatementId", "attachments",
                                       "format"}:
            raise LrsError(400, "statementId/voidedStatementId take no other parameters")
        wanted = sid or vid or ""
        found = self.statements.get(wanted)
        if found is None or (sid is not None and wanted in self.voided) or \
                (vid is not None and wanted not in self.voided):
            raise LrsError(404, "no such statement")
        return found

    def query(self, args: Mapping[str, str]) -> dict[str, Any]:
        try:
            limit = int(args.get("limit", "0"))
        except ValueError:
            raise LrsError(400, "limit must be an integer") from None
        limit = SERVER_LIMIT if limit <= 0 else min(limit, SERVER_LIMIT)
        since = parse_time(args["since"]) if args.get("since") else None
        until = parse_time(args["until"]) if args.get("until") else None
        agent = json.loads(args["agent"]) if args.get("agent") else None
        ids = []
        for sid in self.order:
            s = self.statements[sid]
            stored = parse_time(s["stored"])
            if sid in self.voided:
                continue
            if (since is not None and stored <= since) or (until is not None and stored > until):
                continue
            if args.get("verb") and s["verb"]["id"] != args["verb"]:
                continue
            if args.get("activity") and s["object"].get("id") != args["activity"]:
                continue
            if agent is not None and not _same_agent(s.get("actor") or {}, agent):
                continue
            ids.append(sid)
        ids.sort(key=lambda i: self.statements[i]["stored"],
                 reverse=args.get("ascending", "false") != "true")
        return self._page(ids, limit)

    def _page(self, ids: list[str], limit: int) -> dict[str, Any]:
        head, rest = ids[:limit], ids[limit:]
        more = ""
        if rest:
            token = uuid.uuid4().hex
            self.pages[token] = rest
            self.pages[f"{token}:limit"] = [str(limit)]
            more = f"/xapi/statements/more/{token}"
        return {"statements": [self.statements[i] for i in head], "more": more}

    def more(self, token: str) -> dict[str, Any]:
        rest = self.pages.get(token)
        if rest is None:
            raise LrsError(404, "unknown more token")
        return self._page(rest, int(self.pages[f"{token}:limit"][0]))

    def state(self) -> dict[str, Any]:
        return {"statements": [self.statements[i] for i in self.order],
                "voided": sorted(self.voided), "counts": dict(self.counts)}
