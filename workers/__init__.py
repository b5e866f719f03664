"""Worker process entry points (CONTRACTS.md §4)."""

from workers._namespace import setup_namespace
from workers._schedules import ensure_schedules
from workers._worker import connect, create_worker, product_client

__all__ = ["connect", "create_worker", "ensure_schedules", "product_client", "setup_namespace"]
