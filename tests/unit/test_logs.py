"""The worker's log lines are JSON with the cycle's workflow ID."""

from __future__ import annotations

import json
import logging
import sys

from client.logs import JsonLines


def test_a_workflow_log_line_carries_the_cycle_id() -> None:
    """Temporal's workflow context becomes top-level fields of the JSON line."""
    record = logging.LogRecord(
        "temporalio.workflow", logging.INFO, "x", 1, "cycle %s", ("REMINDED",), None
    )
    record.temporal_workflow = {
        "workflow_id": "cycle-gas-2027-03-abc",
        "workflow_type": "CitizenCycle",
        "run_id": "r",
    }
    line = json.loads(JsonLines().format(record))
    assert line["message"] == "cycle REMINDED"
    assert line["workflow_id"] == "cycle-gas-2027-03-abc"
    assert line["workflow_type"] == "CitizenCycle"
    assert "run_id" not in line and line["level"] == "INFO"


def test_a_log_line_never_shows_an_iin_or_a_phone_number() -> None:
    """Whatever a library logs (BMG's lookup URL, a driver's row, a traceback), the line shows
    no 12-digit IIN and no phone number as +77…, 77… or 87…; other numbers stay."""
    iin, phone = "870412300123", "+77011234567"
    message = f"GET /v1/subscribers/{iin} from {phone} 77011234567,87011234567 voucher V-20 x1000"
    try:
        raise ValueError(f"row ({iin!r},)")
    except ValueError:
        record = logging.LogRecord("httpx", logging.INFO, "x", 1, message, None, sys.exc_info())
    line = JsonLines().format(record)
    for secret in (iin, phone, phone[1:], "8" + phone[2:]):
        assert secret not in line
    assert "voucher V-20 x1000" in line and "[redacted]" in json.loads(line)["error"]
