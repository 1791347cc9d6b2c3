"""Why a write to the archive failed, in words an operator can act on.

SQLite says ``disk I/O error`` or ``unable to open database file`` and GDAL prints ``_tiffWriteProc: No
space left on device`` on stderr, whatever the cause: a full disk, a file system mounted read-only, or a
file-size limit (``ulimit -f``). :func:`write_problem` looks at the folder and the process and names the
cause it finds, so the run's one error line says what to fix.
"""

from __future__ import annotations

import os
import resource
import shutil
from pathlib import Path

#: Free space below which a failed write is blamed on a full disk, bytes.
FULL_BELOW = 2**20


def write_problem(path: Path) -> str | None:
    """The reason writes under ``path`` (a file or folder, existing or not) can fail, or None if none is
    seen: ``the file system holding /x is read-only``, ``the disk holding /x is full (12 KB free)`` or
    ``this process may not write files larger than 100000 bytes (ulimit -f)``."""
    folder = path if path.is_dir() else path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        stats = os.statvfs(folder)
    except OSError:
        return None
    if stats.f_flag & os.ST_RDONLY:
        return f"the file system holding {folder} is read-only"
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    if free is not None and free < FULL_BELOW:
        return f"the disk holding {folder} is full ({free // 1024} KB free)"
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft != resource.RLIM_INFINITY:
        return f"this process may not write files larger than {soft} bytes (ulimit -f)"
    return None


def explained(message: str, path: Path) -> str:
    """``message`` followed by the cause :func:`write_problem` finds, if any."""
    problem = write_problem(path)
    return f"{message}: {problem}" if problem else message
