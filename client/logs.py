"""Structured logs: one JSON object a line, with the cycle's workflow ID when there is one."""

from __future__ import annotations

import json
import logging
import re
from typing import Any, TextIO

# Temporal's loggers put the workflow's or activity's identity under these ``extra`` keys.
_CONTEXT = ("temporal_workflow", "temporal_activity")

# What could be an IIN (12 digits) or a Kazakh mobile number (+77…, 87…, 77…: 11 digits), not
# part of a longer word or number: the last guard, should a library ever log one (BMG's lookup
# URL carries the IIN by contract; a driver's error may quote a row).
_PERSONAL_NUMBER = re.compile(r"(?<![0-9A-Za-z])\+?[0-9]{11,12}(?![0-9A-Za-z])")
REDACTED = "[redacted]"

# Third-party loggers that would show personal data above WARNING: httpx logs each request's URL
# at INFO (BMG's carries the IIN), SQLAlchemy's engine the rows it reads and aiosqlite the
# parameters it binds at DEBUG.
_QUIET = (
    "httpx",
    "httpcore",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "aiosqlite",
    "uvicorn.access",
)


def redact(text: str) -> str:
    """``text`` with every number that could be an IIN or a phone number replaced."""
    return _PERSONAL_NUMBER.sub(REDACTED, text)


class JsonLines(logging.Formatter):
    """Formats a record as JSON with its level, logger, message and Temporal context."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "at": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in _CONTEXT:
            context = getattr(record, key, None)
            if isinstance(context, dict):
                line.update(
                    {
                        k: v
                        for k, v in context.items()
                        if k in ("workflow_id", "workflow_type", "activity_type", "attempt")
                    }
                )
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return redact(json.dumps(line, ensure_ascii=False))


def configure_logging(level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Send the process's logs to ``stream`` (stderr) as JSON lines, IINs and phones redacted."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
