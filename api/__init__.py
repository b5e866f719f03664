"""The HTTP layer (CONTRACTS.md §1)."""

from api.app import create_app

__all__ = ["create_app"]
