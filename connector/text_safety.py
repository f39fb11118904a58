"""Text that a spreadsheet would run as a formula, made inert.

Employees' names, skills and course titles reach places that end up in spreadsheets: our CSV
reports and the vendors' own exports of goal titles. A cell that starts with `=`, `+`, `-`, `@`,
a tab or a carriage return is read as a formula by Excel, LibreOffice and Google Sheets
(OWASP "CSV injection"). The usual defence is to put a single quote in front: spreadsheets show
the text as typed and never evaluate it. One function, used by every writer of such text, so the
rule cannot drift between the console's CSV and the vendor fields.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(text: str) -> bool:
    """True when a spreadsheet would evaluate `text` as a formula."""
    return text.startswith(FORMULA_STARTS)


def neutralise_formula(text: str) -> str:
    """`text` as a spreadsheet shows it but never evaluates it (a leading `'`)."""
    return "'" + text if looks_like_formula(text) else text


def neutralise_cell(value: object) -> object:
    """A CSV cell made safe: strings are neutralised, numbers and None pass unchanged (a
    negative number is a number, not a formula)."""
    return neutralise_formula(value) if isinstance(value, str) else value
