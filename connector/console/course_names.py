"""Courses as people know them on every page: the LMS title as the worker last read it
(store/catalogue.py), with the id beside it, or the id alone when no title is known yet
(before the worker's first catalogue read, or with no LMS). Read once per request."""

from __future__ import annotations

from flask import g
from markupsafe import Markup

from connector.console.app import console
from connector.plan_summary import course_text


def titles() -> dict[str, str]:
    found = g.get("course_titles")
    if found is None:
        found = g.course_titles = console().store.course_titles.all()
    return found


def course_label(course_id: str) -> Markup:
    """`Negotiation basics (101)` as HTML, the title escaped; `course 101` with no title."""
    title = titles().get(str(course_id))
    if not title:
        return Markup.escape(course_text(course_id, None))
    return Markup("{} <small>({})</small>").format(title, course_id)
