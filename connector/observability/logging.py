"""Log set-up for every process: JSON lines (or plain text) on stderr, at a set level.

`connector serve`, `connector worker` and the gunicorn receiver call `configure_logging` with
`CONNECTOR_LOG_LEVEL` and `CONNECTOR_LOG_FORMAT`, so their lines look the same and a log
pipeline parses one format. A JSON line never carries an exception's message (it may quote
payload data or SQL parameters), only its type.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

_LOG_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _LOG_RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error_type"] = record.exc_info[0].__name__  # no message: it may hold data
        return json.dumps(entry, default=str)


JsonLogFormatter.converter = time.gmtime  # UTC, as the "Z" in each timestamp says


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Root logging for the whole process: JSON lines on stderr (or plain text)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # urllib3 logs request paths at DEBUG, and TalentLMS v1 paths carry e-mails: never below INFO.
    logging.getLogger("urllib3").setLevel(max(logging.INFO, root.level))
