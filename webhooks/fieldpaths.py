"""Field paths into a JSON document, and a reader that collects errors under those paths.

Every webhook body shape is read through here: `parse_path` turns a configured dotted path
(`data.ratings[0].skill`) into tokens, `resolve` follows tokens into a document, and
`FieldReader` reads typed values (text, number, time, list) at a path, recording each problem
with the path rendered back (`render_path`) so a 422 names the field the sender must fix.
Text and id lengths are capped here, so no body shape can forget to cap them.
"""

from __future__ import annotations

import contextlib
import math
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from webhooks.decoding import PayloadError

MAX_TEXT = 4000
MAX_ID = 255

MISSING: Any = object()
Path = tuple[str | int, ...]

_SEGMENT = re.compile(r"^([^.\[\]]*)((?:\[\d+\])*)$")


def parse_path(path: str) -> Path:
    """`data.ratings[0].skill` → ("data", "ratings", 0, "skill"). ValueError when malformed."""
    tokens: list[str | int] = []
    for segment in path.split("."):
        match = _SEGMENT.match(segment)
        if not match or (not match.group(1) and not match.group(2)):
            raise ValueError(f"malformed field path {path!r}")
        if match.group(1):
            tokens.append(match.group(1))
        tokens.extend(int(i) for i in re.findall(r"\[(\d+)\]", match.group(2)))
    return tuple(tokens)


def render_path(tokens: Path) -> str:
    """The inverse of `parse_path`; `$` for the document itself (JSON Path's root)."""
    out = ""
    for token in tokens:
        if isinstance(token, int):
            out += f"[{token}]"
        else:
            out += f".{token}" if out else token
    return out or "$"


def resolve(doc: Any, tokens: Path) -> Any:
    """The value at `tokens` in `doc`, or `MISSING` (told apart from a JSON null)."""
    node = doc
    for token in tokens:
        if isinstance(token, int):
            if not isinstance(node, list) or token >= len(node):
                return MISSING
            node = node[token]
        else:
            if not isinstance(node, dict) or token not in node:
                return MISSING
            node = node[token]
    return node


class FieldReader:
    """Reads typed values out of a document, collecting every problem with its path.

    Each body parser reads every field before raising, so one 422 lists all that is wrong.
    """

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    def fail(self, tokens: Path, message: str) -> None:
        self.errors.append((render_path(tokens), message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise PayloadError(self.errors)

    def value(self, doc: Any, tokens: Path, required: bool) -> Any:
        found = resolve(doc, tokens)
        if (found is MISSING or found is None) and required:
            self.fail(tokens, "is required")
        return None if found is MISSING else found

    def text(self, doc: Any, tokens: Path | None, required: bool = False, limit: int = MAX_TEXT):
        if tokens is None:
            return None
        found = self.value(doc, tokens, required)
        if found is None:
            return None
        if isinstance(found, int) and not isinstance(found, bool):
            found = str(found)
        if not isinstance(found, str):
            self.fail(tokens, "must be a string")
            return None
        found = found.strip()
        if len(found) > limit:
            self.fail(tokens, f"must be at most {limit} characters")
            return None
        if not found:
            if required:
                self.fail(tokens, "must not be empty")
            return None
        return found

    def number(self, doc: Any, tokens: Path | None, required: bool = False) -> float | None:
        if tokens is None:
            return None
        found = self.value(doc, tokens, required)
        if found is None:
            return None
        if isinstance(found, str):
            with contextlib.suppress(ValueError):
                found = float(found)
        if isinstance(found, bool) or not isinstance(found, int | float):
            self.fail(tokens, "must be a number")
            return None
        number = float(found)
        if not math.isfinite(number):
            self.fail(tokens, "must be a finite number")
            return None
        return number

    def time(self, doc: Any, tokens: Path | None, required: bool = False) -> datetime | None:
        if tokens is None:
            return None
        found = self.value(doc, tokens, required)
        if found is None:
            return None
        if isinstance(found, int | float) and not isinstance(found, bool):
            if not 0 <= found < 10**11:
                self.fail(tokens, "must be Unix seconds or an ISO 8601 time")
                return None
            return datetime.fromtimestamp(found, UTC)
        if not isinstance(found, str) or len(found) > 64:
            self.fail(tokens, "must be an ISO 8601 time")
            return None
        try:
            parsed = datetime.fromisoformat(found.strip())
        except ValueError:
            self.fail(tokens, "must be an ISO 8601 time")
            return None
        if parsed.tzinfo is None:
            self.fail(tokens, "needs a time zone (for example 2026-03-01T10:00:00Z)")
            return None
        return parsed.astimezone(UTC)

    def items(self, doc: Any, tokens: Path, limit: int, required: bool = True) -> list[Any]:
        found = self.value(doc, tokens, required)
        if found is None:
            return []
        if not isinstance(found, list):
            self.fail(tokens, "must be a list")
            return []
        if len(found) > limit:
            self.fail(tokens, f"must hold at most {limit} items")
            return []
        return found


def model_errors(exc: ValidationError, prefix: str) -> PayloadError:
    """A model's validation errors as a `PayloadError`, each under `prefix` in the body."""
    errors = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        errors.append((f"{prefix}.{where}" if where else prefix, err["msg"]))
    return PayloadError(errors)
