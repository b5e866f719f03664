"""Shared fixtures: real Temporal servers, the simulators on loopback, the product's worker."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from devtools.postgres import Cluster, running_cluster, unavailable
from tests.harness import Product, fresh_product
from workers import setup_namespace

BIN = Path(sys.executable).parent


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server of the test's own (about a second to start).

    One per test, because a server's clock only moves forward and because a workflow left
    waiting by an earlier test can hold the server's time skipping when its timer fires.
    """
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    await setup_namespace(environment.client)
    try:
        yield environment
    finally:
        await environment.shutdown()


@pytest.fixture
async def product(
    env: WorkflowEnvironment, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Product]:
    """The worker on a fresh task queue and database, with the simulators on loopback.

    The worker gets a plain client, so the clock moves only when a test calls ``env.sleep``.
    A test may change settings: ``@pytest.mark.parametrize("product", [{…}], indirect=True)``.
    """
    async with fresh_product(env, tmp_path, **getattr(request, "param", {})) as running:
        yield running


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """One PostgreSQL server for the module; each test gets a database of its own."""
    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)
    with running_cluster() as running:
        yield running
