"""The run lock: overlapping cron runs must not both write the archive."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from monitor.errors import LockedError


@contextmanager
def run_lock(data_dir: Path) -> Iterator[None]:
    """Hold ``data_dir/.monitor.lock`` for the duration; :class:`LockedError` at once if another run has it.

    An OS-level lock (``flock``), so a crashed run never leaves a stale lock behind.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(data_dir / ".monitor.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise LockedError(f"another monitor run holds the lock on {data_dir}; try again later") from None
    try:
        yield
    finally:
        lock.release()
