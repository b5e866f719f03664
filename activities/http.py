"""How an outside system's HTTP answer becomes a Temporal retry decision."""

from __future__ import annotations

from datetime import timedelta

import httpx
from temporalio.exceptions import ApplicationError


def raise_for_retry(response: httpx.Response, system: str) -> None:
    """Raise if ``response`` is not a success: retryable for 429/5xx, final for other 4xx.

    A 429's ``Retry-After`` becomes the next retry's delay, so the product backs off exactly as
    long as the outside system asked.
    """
    if response.is_success:
        return
    status = response.status_code
    message = f"{system} answered {status} to {response.request.method} {response.request.url.path}"
    if status == 429:
        raise ApplicationError(message, type="RateLimited", next_retry_delay=_retry_after(response))
    if status >= 500 or status in (408, 409, 425):
        raise ApplicationError(message, type="Unavailable")
    raise ApplicationError(message, type="Rejected", non_retryable=True)


def _retry_after(response: httpx.Response) -> timedelta | None:
    value = response.headers.get("Retry-After", "")
    try:
        return timedelta(seconds=max(1, int(value)))
    except ValueError:
        return None
