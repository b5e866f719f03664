"""How an outside system's HTTP answer becomes a Temporal retry decision."""

from __future__ import annotations

from datetime import timedelta

import httpx
from temporalio.exceptions import ApplicationError


def raise_for_retry(response: httpx.Response, system: str) -> None:
    """Raise if ``response`` is not a success; the activity is retried with back-off.

    A 429's ``Retry-After`` becomes the next retry's delay, so the product backs off exactly as
    long as the outside system asked.
    """
    if response.is_success:
        return
    status = response.status_code
    # No path in the message: BMG's carries the IIN, and messages reach logs and histories.
    message = f"{system} answered {status} to {response.request.method}"
    if status == 429:
        raise ApplicationError(message, type="RateLimited", next_retry_delay=_retry_after(response))
    if status >= 500 or status in (408, 409, 425):
        raise ApplicationError(message, type="Unavailable")
    # Retried too (every ten minutes at most): failing the cycle would lose it, while a
    # rejected request is retried, logged by the worker, until the cause is fixed.
    raise ApplicationError(message, type="Rejected")


def _retry_after(response: httpx.Response) -> timedelta | None:
    value = response.headers.get("Retry-After", "")
    try:
        return timedelta(seconds=max(1, int(value)))
    except ValueError:
        return None
