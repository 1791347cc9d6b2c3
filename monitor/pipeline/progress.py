"""Progress bars on stderr for long work, loaded only when there is work to show (tqdm is not free)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")


def progress(items: Sequence[T], *, desc: str, unit: str = "scene", enabled: bool = True) -> Iterable[T]:
    """``items`` with a transient tqdm bar when ``enabled`` and there is something to do; else as is."""
    if not enabled or not items:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit=unit, leave=False)
