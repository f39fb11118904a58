"""Log set-up for every process: JSON lines (or readable text lines) on stderr, at a set level.

`connector serve`, `connector worker` and the gunicorn receiver call `configure_logging` with
`CONNECTOR_LOG_LEVEL` and `CONNECTOR_LOG_FORMAT`, so their lines look the same and a log
pipeline parses one format. Both formats carry the same fields (`fields()`): a text line is
the message followed by every `extra=` field as `key=value`, so a person reading `text` sees
the path, status, job and vendor a JSON reader sees. Neither ever carries an exception's
message (it may quote payload data or SQL parameters), only its type.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_LOG_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _timestamp(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    return formatter.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z"


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """What a log line says beyond its time, level, logger and message: every `extra=`
    field, and the type (never the message) of an attached exception."""
    found = {key: value for key, value in vars(record).items()
             if key not in _LOG_RECORD_FIELDS and not key.startswith("_")}
    if record.exc_info and record.exc_info[0] is not None:
        found["error_type"] = record.exc_info[0].__name__  # no message: it may hold data
    return found


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(self, record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **fields(record),
        }
        return json.dumps(entry, default=str)


class TextLogFormatter(logging.Formatter):
    """One readable line: `time LEVEL logger message key=value …`, the same fields as JSON.
    A value with spaces, quotes or `=` is quoted (logfmt style), so each line still splits."""

    def format(self, record: logging.LogRecord) -> str:
        head = (f"{_timestamp(self, record)} {record.levelname} {record.name} "
                f"{record.getMessage()}")
        pairs = [f"{key}={_text_value(value)}" for key, value in fields(record).items()]
        return " ".join([head, *pairs])


def _text_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if text == "" or any(c.isspace() or c in '"=\\' for c in text):
        return json.dumps(text)
    return text


JsonLogFormatter.converter = time.gmtime  # UTC, as the "Z" in each timestamp says
TextLogFormatter.converter = time.gmtime


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record is emitted, not to the stream that
    was stderr when logging was set up (a redirected or replaced stderr keeps working)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Root logging for the whole process: JSON lines on stderr (or readable text lines)."""
    handler = _StderrHandler()
    handler.setFormatter(JsonLogFormatter() if fmt == "json" else TextLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # urllib3 logs request paths at DEBUG, and TalentLMS v1 paths carry e-mails: never below INFO.
    logging.getLogger("urllib3").setLevel(max(logging.INFO, root.level))
