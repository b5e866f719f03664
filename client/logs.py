"""Structured logs: one JSON object a line, with the cycle's workflow ID when there is one."""

from __future__ import annotations

import json
import logging
from typing import Any

# Temporal's loggers put the workflow's or activity's identity under these ``extra`` keys.
_CONTEXT = ("temporal_workflow", "temporal_activity")


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
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: int = logging.INFO) -> None:
    """Send the process's logs to stderr as JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # httpx logs each request's URL at INFO, and BMG's URL carries the IIN.
    logging.getLogger("httpx").setLevel(logging.WARNING)
