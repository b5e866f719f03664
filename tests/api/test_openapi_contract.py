"""The OpenAPI document tells the truth (CONTRACTS.md §1, issue 12 item 8): schemathesis, with
all of its checks, against the running product, once per role's token, finds nothing.

``SCHEMATHESIS_EXAMPLES`` (default 5 per operation and mode) makes the run bigger, e.g. in CI;
``SCHEMATHESIS_SEED`` (default 12) draws other examples.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx
import pytest

from tests.harness import Product

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CONFIG = Path(__file__).resolve().parents[2] / "schemathesis.toml"
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "5"))
SEED = os.environ.get("SCHEMATHESIS_SEED", "12")
ROLES = ["sdu", "wallet", "provider", "ops"]
ERROR_STATUSES = ["401", "403", "404", "409", "410", "413", "422"]


async def test_the_document_names_every_refusal_with_the_products_error_body(
    product: Product,
) -> None:
    """Every route documents its refusals with the ``{"error","detail"}`` body and its codes;
    FastAPI's ``HTTPValidationError`` is gone."""
    async with httpx.AsyncClient(base_url=product.api_url) as http:
        document = (await http.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["Error"]["required"]) == {"error", "detail"}
    withdrawal = document["paths"]["/v1/programs/{program}/months/{month}/withdrawals"]["post"]
    assert withdrawal["responses"]["409"]["x-error-codes"] == [
        "list_closed",
        "already_activated",
        "already_final",
    ]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if status in ERROR_STATUSES:
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema["allOf"][0] == {"$ref": "#/components/schemas/Error"}
                    assert answer["x-error-codes"], (method, path, status)
            if path != "/healthz":
                assert {"401", "503"} <= set(operation["responses"]), (method, path)
            if method == "post":
                assert "413" in operation["responses"], (method, path)


@pytest.mark.timeout(max(120, 30 * EXAMPLES))  # a bigger run takes longer
async def test_schemathesis_with_every_check_finds_the_document_true(
    product: Product, tmp_path: Path
) -> None:
    """``schemathesis run --checks all`` against the product's own ``/openapi.json``, once with
    each role's token (the four runs side by side): every answer is documented, in the
    documented shape; no 5xx."""
    tokens = {role: token for token, role in product.settings.tokens_by_role().items()}
    # A real food voucher, so the wallet's routes are exercised beyond 404.
    _, _, _, issued = await product.issued_voucher("food")
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f'{CONFIG.read_text()}\n[parameters]\n"path.voucher_id" = "{issued.voucher_id}"\n'
    )
    reports = await asyncio.gather(
        *(_schemathesis(product.api_url, tokens[r], config, tmp_path / r) for r in ROLES)
    )
    failed = {role: report for role, (ok, report) in zip(ROLES, reports, strict=True) if not ok}
    assert not failed, "\n\n".join(f"--- {role} ---\n{report}" for role, report in failed.items())


async def _schemathesis(api_url: str, token: str, config: Path, workdir: Path) -> tuple[bool, str]:
    """One schemathesis run with ``token``; (passed, its report's failures)."""
    workdir.mkdir()
    run = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "--config-file",
        str(config),
        "run",
        f"{api_url}/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        SEED,
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--suppress-health-check",
        "all",
        cwd=workdir,  # its example database stays out of the repository
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1"},
    )
    output, _ = await run.communicate()
    report = output.decode(errors="replace")
    failures = report.find("FAILURES")
    return run.returncode == 0, report[failures : failures + 12_000] if failures >= 0 else report
