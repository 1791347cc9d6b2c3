"""The run lock: overlapping cron runs, or a run and a backfill, must not both write the archive.

The lock is an OS-level lock (``flock`` through filelock) on ``data_dir/.monitor.lock``, so a crashed
holder never leaves a stale lock behind. Whoever holds it describes itself in ``data_dir/.monitor.holder``
(a small JSON record, replaced atomically: what it is, its process id, when it started, and for a backfill
how far it has come), so that a ``monitor run`` refused by a long backfill says which one and how long it
still needs, instead of failing every cron run for hours without a reason. The record is only read when
the lock is refused; one left behind by a crashed holder names a process that is gone and is not shown.

``monitor alerts ack|dismiss`` do not take this lock: they write in one short SQLite transaction
(:mod:`monitor.pipeline.feedback`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from filelock import FileLock, Timeout

from monitor.errors import ArchiveError, LockedError

LOCK_NAME = ".monitor.lock"
HOLDER_NAME = ".monitor.holder"


@dataclass(frozen=True)
class LockHolder:
    """Who holds the run lock: ``kind`` (``run`` or ``backfill``), its process id, when it started (ISO-8601
    UTC), what it does (``detail``: a backfill's period) and how far it has come (``progress``: a backfill's
    ``done/planned scenes, ..., ETA``; empty until known)."""

    kind: str
    pid: int
    started_at: str
    detail: str = ""
    progress: str = ""

    def describe(self) -> str:
        """One phrase naming the holder: ``a backfill (pid 4242, since 2026-12-04T03:10:00+00:00, ...)``."""
        parts = [f"pid {self.pid}", f"running since {self.started_at}"]
        if self.detail:
            parts.append(self.detail)
        if self.progress:
            parts.append(self.progress)
        return f"a {self.kind} ({', '.join(parts)})"


class HeldLock:
    """The lock as held: :meth:`update` records the holder's progress for whoever is refused meanwhile."""

    def __init__(self, data_dir: Path, holder: LockHolder | None) -> None:
        self.path = data_dir / HOLDER_NAME
        self.holder = holder

    def update(self, progress: str) -> None:
        """Record ``progress`` in the holder record (best effort: a full disk must not stop the holder)."""
        if self.holder is None:
            return
        self.holder = replace(self.holder, progress=progress)
        _write_holder(self.path, self.holder)


def _write_holder(path: Path, holder: LockHolder) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(asdict(holder)))
        os.replace(tmp, path)
    except OSError:  # the record is a courtesy to the next process; the lock itself is what excludes
        with suppress(OSError):
            tmp.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def current_holder(data_dir: Path) -> LockHolder | None:
    """The holder record of ``data_dir``, if it names a live process on this machine; else None."""
    try:
        raw = json.loads((data_dir / HOLDER_NAME).read_text())
        holder = LockHolder(
            kind=str(raw["kind"]),
            pid=int(raw["pid"]),
            started_at=str(raw["started_at"]),
            detail=str(raw.get("detail", "")),
            progress=str(raw.get("progress", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return holder if _alive(holder.pid) and holder.pid != os.getpid() else None


@contextmanager
def run_lock(data_dir: Path, holder: LockHolder | None = None) -> Iterator[HeldLock]:
    """Hold ``data_dir/.monitor.lock`` for the duration; :class:`LockedError` at once if another process has
    it, naming that process when it described itself (``holder``: how this one describes itself)."""
    lock = FileLock(str(data_dir / LOCK_NAME), timeout=0)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except Timeout:
        other = current_holder(data_dir)
        if other is None:
            raise LockedError(f"another monitor run holds the lock on {data_dir}; try again later") from None
        if other.kind == "backfill":
            raise LockedError(
                f"{other.describe()} holds the lock on {data_dir}; this pass is skipped and the next one goes on "
                "once the backfill has finished (its scenes are not fetched or scored twice)"
            ) from None
        raise LockedError(f"{other.describe()} holds the lock on {data_dir}; try again later") from None
    except OSError as exc:
        raise ArchiveError(f"cannot use the archive folder {data_dir}: {exc.strerror or exc}") from exc
    held = HeldLock(data_dir, holder)
    try:
        if holder is not None:
            _write_holder(held.path, holder)
        yield held
    finally:
        if holder is not None:
            with suppress(OSError):
                held.path.unlink()
        lock.release()
