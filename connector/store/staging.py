"""Staged batches: what a safety limit stopped, kept as it was read until a person decides.

A stopped batch queues no job; its stream's cursor stays where it was. Staging the same plan
again (the next round of a poll that still finds it) stores nothing new; a different plan for
the same stream supersedes the one waiting, so a stream has at most one waiting batch.
A decision is conditional on `waiting`, so two people deciding at once cannot both win.

A poll that reads page by page stores each page as it is read into the stream's `reading`
batch (one transaction per page, with the cursor that resumes after it), so a connection lost
mid-poll costs at most the page in hand; once the last page is in, the whole batch is judged
by the safety limits as one, and the reading batch is dropped when its reviews are queued.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, delete, select, update

from connector.models import utcnow
from connector.store.engine import Transaction, transaction, using
from connector.store.rows import StagedBatch
from connector.store.schema import staged_batches
from connector.store.sql import dumps

_WAITING = "waiting"
_READING = "reading"


class StagingMixin:
    """The `Store`'s staged-batch operations (mixed into `Store`)."""

    engine: Engine

    def stage_batch(self, *, stream: str, source: str, kind: str, reasons: list[str],
                    summary: dict[str, Any], plan_hash: str, payload: dict[str, Any],
                    cursor: str | None, tx: Transaction | None = None
                    ) -> tuple[StagedBatch, bool]:
        """Keep a stopped batch; (the batch, True) when stored now, (the one already waiting
        with the same plan, False) when it was staged before."""
        table = staged_batches
        with using(self.engine, tx) as c:
            waiting = c.execute(select(table).where(table.c.stream == stream,
                                                    table.c.state == _WAITING)
                                .with_for_update()).mappings().first()
            if waiting is not None and waiting["plan_hash"] == plan_hash:
                return StagedBatch.from_row(waiting), False
            now = utcnow()
            if waiting is not None:
                c.execute(update(table).where(table.c.id == waiting["id"],
                                              table.c.state == _WAITING)
                          .values(state="superseded", decided_at=now,
                                  decided_by="a newer plan of the stream"))
            result = c.execute(table.insert().values(
                stream=stream, source=source, kind=kind, state=_WAITING,
                reasons=dumps(reasons), summary=dumps(summary), plan_hash=plan_hash,
                payload=dumps(payload), cursor=cursor, created_at=now))
            new_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            row = c.execute(select(table).where(table.c.id == new_id)).mappings().one()
            return StagedBatch.from_row(row), True

    def staged_batches(self, state: str | None = _WAITING) -> list[StagedBatch]:
        """Staged batches, oldest first (by default those waiting for a person)."""
        query = select(staged_batches).order_by(staged_batches.c.id)
        if state is not None:
            query = query.where(staged_batches.c.state == str(state))
        with transaction(self.engine) as conn:
            return [StagedBatch.from_row(r) for r in conn.execute(query).mappings()]

    def staged_batch(self, batch_id: int, tx: Transaction | None = None) -> StagedBatch | None:
        with using(self.engine, tx) as c:
            row = c.execute(select(staged_batches).where(staged_batches.c.id == batch_id)
                            .with_for_update()).mappings().first()
            return StagedBatch.from_row(row) if row else None

    def waiting_batch(self, stream: str) -> StagedBatch | None:
        """The batch a stream waits on, if any (its poll does not read past it)."""
        with transaction(self.engine) as conn:
            row = conn.execute(select(staged_batches).where(
                staged_batches.c.stream == stream, staged_batches.c.state == _WAITING)
            ).mappings().first()
            return StagedBatch.from_row(row) if row else None

    def reading_batch(self, stream: str) -> StagedBatch | None:
        """The batch a page-by-page poll of `stream` is reading, if one was left unfinished."""
        with transaction(self.engine) as conn:
            row = conn.execute(select(staged_batches).where(
                staged_batches.c.stream == stream, staged_batches.c.state == _READING)
            ).mappings().first()
            return StagedBatch.from_row(row) if row else None

    def stage_page(self, *, stream: str, source: str, kind: str, started_from: str | None,
                   items: list[dict[str, Any]], cursor: str | None,
                   complete: bool = False) -> StagedBatch:
        """Add one page (`items`) to the stream's reading batch, made on the first page, and
        move its cursor to `cursor` (where reading resumes), in one transaction.
        `started_from` is the stream's cursor when the reading began; `complete`: the last
        page is in."""
        table = staged_batches
        with transaction(self.engine) as c:
            row = c.execute(select(table).where(table.c.stream == stream,
                                                table.c.state == _READING)
                            .with_for_update()).mappings().first()
            if row is None:
                payload: dict[str, Any] = {"started_from": started_from, "items": items,
                                           "complete": complete}
                result = c.execute(table.insert().values(
                    stream=stream, source=source, kind=kind, state=_READING,
                    reasons=dumps([]), summary=dumps({}), plan_hash="",
                    payload=dumps(payload), cursor=cursor, created_at=utcnow()))
                new_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            else:
                new_id = int(row["id"])
                payload = StagedBatch.from_row(row).payload
                payload = {**payload, "items": [*payload.get("items", []), *items],
                           "complete": complete}
                c.execute(update(table).where(table.c.id == new_id)
                          .values(payload=dumps(payload), cursor=cursor))
            return StagedBatch.from_row(
                c.execute(select(table).where(table.c.id == new_id)).mappings().one())

    def drop_reading(self, stream: str) -> None:
        """Forget the stream's reading batch (queued, staged for a person, or stale)."""
        with transaction(self.engine) as conn:
            conn.execute(delete(staged_batches).where(staged_batches.c.stream == stream,
                                                      staged_batches.c.state == _READING))

    def decide_batch(self, tx: Transaction, batch_id: int, state: str, by: str) -> bool:
        """Move a waiting batch to `state`; False when it was no longer waiting."""
        changed = tx.connection.execute(update(staged_batches).where(
            staged_batches.c.id == batch_id, staged_batches.c.state == _WAITING)
            .values(state=str(state), decided_by=by, decided_at=utcnow()))
        return bool(changed.rowcount)
