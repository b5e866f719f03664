"""The worker's log lines are JSON with the cycle's workflow ID."""

from __future__ import annotations

import json
import logging

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
