"""Bounded retries with exponential backoff (tenacity) for the sources' own network calls.

The client libraries retry first (urllib3 ``Retry`` in pystac-client and planetary-computer, GDAL's
``GDAL_HTTP_MAX_RETRY``, sentinelhub's download client); this layer retries what they give up on or do
not cover (a connection reset mid-body, a truncated body, a timeout) a few times more, then lets the
scene fail with its reason so the next run tries it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from monitor.errors import EmptySceneError, SourceError

log = logging.getLogger(__name__)
T = TypeVar("T")


class TransientError(SourceError):
    """A failure that may go away when tried again (timeouts, resets, 429, 5xx, truncated bodies)."""


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``attempts`` tries, waiting ``backoff`` x 2^n seconds (capped at ``max_wait``) in between."""

    attempts: int = 4
    backoff: float = 1.0
    max_wait: float = 30.0

    def call(self, what: str, func: Callable[[], T], retry_on: tuple[type[BaseException], ...] = (SourceError,)) -> T:
        """``func()`` retried on ``retry_on`` errors (never on an empty scene); the last error is re-raised."""

        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, retry_on) and not isinstance(exc, EmptySceneError)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning("%s failed (attempt %d of %d), retrying: %s", what, state.attempt_number, self.attempts, exc)

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.backoff, max=self.max_wait),
            retry=retry_if_exception(retryable),
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(func)
