"""What reading one review file found: its layout, its rejected rows, warnings, ignored columns.

A bad row never stops a file; the format readers record it here with its line (or position)
and reason and read on, so an operator gets every problem of an export in one pass. A warning
(a completion date in the future, an id column that holds emails) rejects nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RowError:
    """A rejected row: `row_number` is the 1-based line in a CSV, the item position in JSON."""

    path: str
    row_number: int
    reason: str

    def __str__(self) -> str:
        if not self.row_number:
            return f"{self.path}: {self.reason}"
        return f"{self.path}:{self.row_number}: {self.reason}"


class RowRejected(Exception):
    """This row is bad for the stated reason (recorded with its line; reading goes on)."""


class FileReport:
    """The findings of one file's read so far; filled in as its rows are read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.errors: list[RowError] = []
        self.warnings: list[RowError] = []  # row_number 0: about the file, not one row
        self.ignored_columns: list[str] = []
        self.layout: str | None = None  # "long", "wide" or "json" once reading has begun

    def reject(self, row_number: int, reason: str) -> None:
        self.errors.append(RowError(str(self.path), row_number, reason))

    def warn(self, row_number: int, reason: str) -> None:
        self.warnings.append(RowError(str(self.path), row_number, reason))


def describe(errors: list[RowError], limit: int = 20) -> list[str]:
    """Error lines for people: the first `limit`, then how many more."""
    lines = [str(e) for e in errors[:limit]]
    if len(errors) > limit:
        lines.append(f"... and {len(errors) - limit} more rejected rows")
    return lines
