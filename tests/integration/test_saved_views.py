"""The README's saved-view queries are accepted by a real Temporal server with the product's
search attributes (issue 10 item 3): a typo there would greet ops with an error."""

from __future__ import annotations

import re
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

README = Path(__file__).resolve().parents[2] / "README.md"


def _saved_views() -> list[str]:
    section = README.read_text().split("## Finding things in the Web UI", 1)[1].split("\n## ")[0]
    queries = re.findall(r"^\|[^|]+\| `(.+)` .*\|$|^\|[^|]+\| `(.+)` \|$", section, re.MULTILINE)
    return [(a or b).replace("<pseudonym>", "0123abcd") for a, b in queries]


async def test_every_saved_view_query_of_the_readme_is_valid(
    dev_server: WorkflowEnvironment,
) -> None:
    views = _saved_views()
    assert len(views) >= 7, views
    for query in views:
        counted = await dev_server.client.count_workflows(query)
        assert counted.count == 0, query
