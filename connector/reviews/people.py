"""Who a review is about: an HR id, a work email, or both, as exports and webhooks give them.

Performance tools often export the email and not the HR system's internal id. A person given
by email alone is keyed by the lowercased email (a provisional key the identity ledger resolves
later); given both, the id is the key and the email is kept. Emails are trimmed, compared
case-insensitively and checked for the shape of an address, so a typo is a per-row error rather
than a learner who never matches.
"""

from __future__ import annotations

import re

#: Deliberately loose: one @, something before it, a dotted domain after, no spaces or
#: separators. Deliverability is the mail system's business; this catches a name or a
#: truncated cell in the email column.
_EMAIL = re.compile(r"[^@\s,;<>()\[\]]+@[^@\s,;<>()\[\]]+\.[^@\s,;<>()\[\].]+")
_NAME = re.compile(r"[^\W\d_]+(?:[ '.-][^\W\d_]+)*\.?")


class PersonError(ValueError):
    """The row names nobody, or names them with an email that is not an address."""


def normalise_email(text: str | None) -> str | None:
    """The email as compared and stored (trimmed, lowercased); None when blank.

    PersonError when it does not look like an address.
    """
    if text is None:
        return None
    email = text.strip().lower()
    if not email:
        return None
    if not _EMAIL.fullmatch(email):
        raise PersonError(f"email {text.strip()!r} is not an email address")
    return email


def person_key(employee_id: str | None, email: str | None) -> tuple[str, str | None]:
    """(the key the connector files the person under, their normalised email).

    The HR id when given, else the lowercased email; PersonError when there is neither or the
    email is malformed.
    """
    address = normalise_email(email)
    key = (employee_id or "").strip()
    if key:
        return key, address
    if address is None:
        raise PersonError("no employee id or email: give one of them (or both)")
    return address, address


def looks_like_not_an_id(value: str) -> str | None:
    """What an id cell seems to hold instead ("email addresses", "person names"), or None."""
    if "@" in value:
        return "email addresses"
    if " " in value.strip() and _NAME.fullmatch(value.strip()):
        return "person names"
    return None
