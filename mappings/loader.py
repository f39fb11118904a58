"""Read the admin's mapping file and turn every mistake into a message an HR admin can act on.

A message names the file, then either the line and column (TOML syntax) or the path inside the
file in the same spelling the admin reads in the docs (`rules[3].courses[0]`, 0-based), and what
was expected there. All problems are reported at once, so one edit-check cycle fixes them all.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from connector.errors import ConfigError
from mappings.schema import Mapping

_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def load_mapping(path: str | Path) -> Mapping:
    """The mapping in `path`, or a ConfigError naming the file and each problem in it."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: mapping file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the mapping file: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        ) from None
    return load_mapping_text(text, str(path))


def load_mapping_text(text: str, name: str = "<mapping>") -> Mapping:
    """Parse and validate mapping text; `name` is what error messages call the file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: {_describe_toml_error(exc)}") from None
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        problems = describe_validation_errors(exc)
        noun = "problem" if len(problems) == 1 else "problems"
        raise ConfigError(
            f"{name}: {len(problems)} {noun} in the mapping:\n  " + "\n  ".join(problems)
        ) from None


def _describe_toml_error(exc: tomllib.TOMLDecodeError) -> str:
    """'line 4, column 9: invalid value' rather than tomllib's trailing '(at line 4, column 9)'."""
    message = str(exc)
    found = _TOML_POSITION.search(message)
    if not found:
        return f"TOML syntax error: {message}"
    reason = _TOML_POSITION.sub("", message).strip()
    return f"line {found.group(1)}, column {found.group(2)}: TOML syntax error: {reason}"


def format_location(loc: tuple[int | str, ...]) -> str:
    """('rules', 3, 'courses', 0) → 'rules[3].courses[0]'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{part}"
        else:
            out = str(part)
    return out


def describe_validation_errors(exc: ValidationError) -> list[str]:
    """One line per problem: '<path>: <what was expected>'."""
    lines: list[str] = []
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        kind = err["type"]
        if kind == "mapping":
            # Cross-section checks arrive as one error with one problem per line.
            lines.extend(str(err["ctx"]["problems"]).splitlines())
            continue
        where = format_location(loc) or "mapping"
        lines.append(f"{where}: {_describe_one(kind, err['msg'], err.get('input'), loc)}")
    return lines


def _describe_one(kind: str, msg: str, value: Any, loc: tuple[int | str, ...]) -> str:
    if kind == "extra_forbidden":
        key = loc[-1] if loc else "?"
        return f"unknown key {key!r} (check the spelling; see mappings/example.toml)"
    if kind == "missing":
        return "required key is missing"
    msg = msg.removeprefix("Value error, ")
    if msg.startswith("Input should be "):
        msg = "expected " + msg.removeprefix("Input should be ")
        if kind.endswith("_type") or kind.endswith("_parsing"):
            msg += f", got {_show(value)}"
    elif msg.startswith("List should have at least 1 item"):
        msg = "expected a non-empty list"
    return msg


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({type(value).__name__})"
