"""Worker process entry points (CONTRACTS.md §4)."""

from workers._namespace import setup_namespace
from workers._schedules import ensure_schedules
from workers._worker import create_worker

__all__ = ["create_worker", "ensure_schedules", "setup_namespace"]
