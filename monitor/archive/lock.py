"""The run lock: overlapping cron runs must not both write the archive."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from monitor.errors import ArchiveError, LockedError


@contextmanager
def run_lock(data_dir: Path) -> Iterator[None]:
    """Hold ``data_dir/.monitor.lock`` for the duration; :class:`LockedError` at once if another run has it.

    An OS-level lock (``flock``), so a crashed run never leaves a stale lock behind.
    """
    lock = FileLock(str(data_dir / ".monitor.lock"), timeout=0)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except Timeout:
        raise LockedError(f"another monitor run holds the lock on {data_dir}; try again later") from None
    except OSError as exc:
        raise ArchiveError(f"cannot use the archive folder {data_dir}: {exc.strerror or exc}") from exc
    try:
        yield
    finally:
        lock.release()
