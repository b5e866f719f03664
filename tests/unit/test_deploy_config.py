"""The compose stack's Temporal server runs with the dynamic config the dev server runs with in
`make run`, the tests and the benchmarks: task-queue fairness, without which a listing's fan-out
goes ahead of the running cycles' replies (docs/DEPLOYMENT.md)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from devtools.stack import DYNAMIC_CONFIG

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_the_compose_server_has_the_dev_servers_dynamic_config() -> None:
    config = yaml.safe_load((DEPLOY / "dynamicconfig.yaml").read_text())
    values = {key: [entry["value"] for entry in entries] for key, entries in config.items()}
    assert values == {key: [json.loads(value)] for key, value in DYNAMIC_CONFIG.items()}


def test_the_compose_server_reads_that_file() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    temporal = compose["services"]["temporal"]
    path = temporal["environment"]["DYNAMIC_CONFIG_FILE_PATH"]
    assert f"./dynamicconfig.yaml:{path}:ro" in temporal["volumes"]
