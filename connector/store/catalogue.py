"""The LMS's course titles as the connector last read them.

The worker reads the LMS catalogue once per process to name courses in goals and messages
(`executor.Context.course_title`) and keeps what it read here, so the console and the reports
can name a course the way people know it ("Negotiation basics", not "101") without asking
the LMS on every page, and still can while the LMS is down. A course the LMS stops listing
keeps its last title. Titles are vendor text: pages escape them and CSV neutralises them.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, Engine, select, update

from connector.models import utcnow
from connector.store.engine import transaction
from connector.store.schema import course_titles
from connector.store.sql import insert_ignore

MAX_TITLE = 500  # the column's width; a longer title is cut, not refused
MAX_ID = 200  # the id column's width; a longer id is no course id this store could hold


class CourseTitles:
    """Named operations on `course_titles`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def remember(self, titles: Mapping[str, str]) -> int:
        """Keep the titles of a catalogue read; how many were new or changed."""
        # PostgreSQL refuses NUL in text: it would fail the whole catalogue, not one title.
        cleaned = {str(cid): (title or "").replace("\x00", "").strip()[:MAX_TITLE]
                   for cid, title in titles.items() if cid and len(str(cid)) <= MAX_ID}
        wanted = {cid: title for cid, title in cleaned.items() if title}
        if not wanted:
            return 0
        now, changed = utcnow(), 0
        with transaction(self.engine) as conn:
            held = _titles(conn)
            for cid, title in wanted.items():
                if cid not in held:
                    changed += insert_ignore(conn, course_titles, {
                        "course_id": cid, "title": title, "seen_at": now}, ["course_id"])
                elif held[cid] != title:
                    conn.execute(update(course_titles)
                                 .where(course_titles.c.course_id == cid)
                                 .values(title=title, seen_at=now))
                    changed += 1
        return changed

    def all(self) -> dict[str, str]:
        """Every course id the connector has seen a title for, with that title."""
        with transaction(self.engine) as conn:
            return _titles(conn)


def _titles(conn: Connection) -> dict[str, str]:
    rows = conn.execute(select(course_titles.c.course_id, course_titles.c.title))
    return {str(cid): str(title) for cid, title in rows}
