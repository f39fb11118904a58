"""The process-wide log set-up: JSON lines (or text) on stderr, at CONNECTOR_LOG_LEVEL."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator

import pytest

from connector.observability.logging import (
    JsonLogFormatter,
    TextLogFormatter,
    configure_logging,
)


@pytest.fixture
def restored_root() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    urllib3_level = logging.getLogger("urllib3").level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("urllib3").setLevel(urllib3_level)


def test_json_lines_carry_extras_and_an_error_type_never_its_message() -> None:
    try:
        raise ValueError("ann@example.com")
    except ValueError:
        record = logging.getLogger("connector.x").makeRecord(
            "connector.x", logging.ERROR, __file__, 1, "job %s failed", ("j1",), None,
            extra={"job_id": 7})
        record.exc_info = sys.exc_info()
    line = json.loads(JsonLogFormatter().format(record))
    assert (line["level"], line["logger"], line["msg"]) == ("error", "connector.x", "job j1 failed")
    assert line["job_id"] == 7 and line["error_type"] == "ValueError"
    assert line["ts"].endswith("Z")
    assert "ann@example.com" not in json.dumps(line)


@pytest.mark.parametrize(("fmt", "formatter"), [("json", JsonLogFormatter),
                                                ("text", TextLogFormatter)])
def test_configure_logging_sets_one_handler_the_level_and_keeps_urllib3_quiet(
        restored_root: logging.Logger, fmt: str, formatter: type[logging.Formatter]) -> None:
    configure_logging("debug", fmt)
    configure_logging("debug", fmt)  # twice: still one handler
    assert len(restored_root.handlers) == 1
    assert type(restored_root.handlers[0].formatter) is formatter
    assert restored_root.level == logging.DEBUG
    assert logging.getLogger("urllib3").level == logging.INFO  # paths carry e-mails at DEBUG


_PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def text_fields(line: str) -> dict[str, str]:
    """The `key=value` pairs of a text log line, quoted values unquoted."""
    return {key: json.loads(value) if value.startswith('"') else value
            for key, value in _PAIR.findall(line)}


def test_text_lines_carry_the_same_fields_as_json_lines() -> None:
    try:
        raise ValueError("ann@example.com")
    except ValueError:
        record = logging.getLogger("webhooks.app").makeRecord(
            "webhooks.app", logging.WARNING, __file__, 1, "request", (), None,
            extra={"path": "/webhooks/hr", "status": 409, "reason": "duplicate event",
                   "job_id": 12, "employee_id": "E7", "vendor": "lms", "note": 'say "hi"',
                   "empty": ""})
        record.exc_info = sys.exc_info()
    as_json = json.loads(JsonLogFormatter().format(record))
    line = TextLogFormatter().format(record)
    assert "\n" not in line and "Traceback" not in line and "ann@example.com" not in line
    assert " WARNING webhooks.app request " in line and line.split(" ")[0].endswith("Z")
    extras = {k: v for k, v in as_json.items() if k not in {"ts", "level", "logger", "msg"}}
    assert text_fields(line) == {k: v if isinstance(v, str) else json.dumps(v)
                                 for k, v in extras.items()}
    assert "reason=\"duplicate event\"" in line and "status=409" in line


def test_log_lines_follow_stderr_when_it_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set up once, logged to later: a replaced (or closed and replaced) stderr still gets
    the lines, instead of a "--- Logging error ---" on a stream that is gone."""
    import io
    import logging as std_logging

    from connector.observability.logging import configure_logging

    configure_logging("INFO", "text")
    later = io.StringIO()
    monkeypatch.setattr("sys.stderr", later)
    std_logging.getLogger("connector.test").info("after the swap")
    assert "after the swap" in later.getvalue()
