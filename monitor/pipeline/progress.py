"""Progress bars on stderr for long work, loaded only when there is work to show (tqdm is not free)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


def progress(items: Sequence[T], *, desc: str, unit: str = "scene", enabled: bool = True) -> Iterable[T]:
    """``items`` with a transient tqdm bar when ``enabled`` and there is something to do; else as is."""
    if not enabled or not items:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit=unit, leave=False)


@contextmanager
def counter(total: int, *, desc: str, unit: str = "scene", enabled: bool = True) -> Iterator[Callable[[], None]]:
    """A callable that advances a transient tqdm bar of ``total`` steps by one; a no-op when not ``enabled``."""
    if not enabled or total == 0:
        yield lambda: None
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit=unit, leave=False) as bar:
        yield lambda: bar.update(1)
