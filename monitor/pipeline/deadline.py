"""The run's deadline (``[monitor] deadline``): past it, no new scene is fetched.

A scene already being fetched finishes (its reads are bounded by their own timeouts and retries); the
scenes not started are left for the next run, which finds them again because the search watermark of a
source is only moved once every scene it found has been recorded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Deadline:
    """``seconds`` from ``started`` (a ``time.monotonic()`` reading, by default when it is made)."""

    seconds: float
    started: float = field(default_factory=time.monotonic)

    def passed(self) -> bool:
        """True once the deadline has passed."""
        return time.monotonic() - self.started >= self.seconds

    def left(self) -> float:
        """Seconds left (0 once passed)."""
        return max(0.0, self.seconds - (time.monotonic() - self.started))
