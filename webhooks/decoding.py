"""Bytes of a verified webhook body → JSON, with the caps that keep a hostile body cheap.

A correctly signed body can still be hostile: not UTF-8, NaN/Infinity, or nested deep enough to
exhaust the parser's stack. This module refuses all of those before any shape is looked at, and
defines the two errors every body parser raises: `MalformedJson` (answered 400) and
`PayloadError` (answered 422, with each bad field's JSON path so the sender can fix it).
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32


class MalformedJson(ValueError):
    """The body is not UTF-8 JSON at all (answered 400)."""


class PayloadError(ValueError):
    """The body is JSON but not the expected shape; `errors` are (field path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{p}: {m}" for p, m in errors[:5]))


def _refuse_constant(name: str) -> Any:
    raise MalformedJson(f"{name} is not valid JSON")


def decode_json(raw: bytes) -> Any:
    """Parse `raw` as JSON, refusing NaN/Infinity and anything nested deeper than MAX_DEPTH."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedJson("body is not UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise PayloadError([("$", f"nested deeper than {MAX_DEPTH} levels")]) from None
    except ValueError:
        raise MalformedJson("body is not valid JSON") from None
    _check_depth(value)
    return value


def _check_depth(value: Any) -> None:
    # Iterative on purpose: a recursive walk would hit the very stack limit being guarded.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PayloadError([("$", f"nested deeper than {MAX_DEPTH} levels")])
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
