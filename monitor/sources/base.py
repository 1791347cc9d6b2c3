"""The :class:`Source` protocol: search a site and time range, then read one scene's crop."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from monitor.config import SiteConfig
from monitor.grid import SiteGrid
from monitor.scene import Scene


@dataclass(frozen=True)
class BandAsset:
    """One band of a scene: its name, the raster that holds it and the 1-based band index there."""

    name: str
    href: str
    index: int = 1
    nodata: float | None = None  # a no-data value the file may not declare (Sentinel-2 L2A: 0)


@dataclass(frozen=True)
class SceneRef:
    """A scene found by a search, before its pixels are read.

    ``acquired`` is None when the source could not tell the time (the scene is then recorded as failed
    with ``problem`` as its reason).
    """

    scene_id: str
    source: str
    acquired: datetime | None
    sensor: str
    assets: tuple[BandAsset, ...] = ()
    problem: str | None = None
    properties: dict[str, Any] = field(default_factory=dict, compare=False)


def printable(name: str) -> str:
    """A file name as valid UTF-8 text (undecodable bytes become U+FFFD), safe to store and print."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class Source(Protocol):
    """Where scenes come from. Implementations live in ``monitor/sources/``, one module each."""

    name: str

    def search(self, site: SiteConfig, start: datetime | None, end: datetime | None) -> list[SceneRef]:
        """Scenes that may cover ``site`` acquired in [start, end] (None: open), oldest first."""
        ...

    def read(self, ref: SceneRef, grid: SiteGrid) -> Scene:
        """The scene's crop on ``grid``. Raises SourceError, SceneError or EmptySceneError."""
        ...


@runtime_checkable
class IncrementalSource(Protocol):
    """A remote source searched incrementally: the first run goes ``first_run_history`` back from now;
    later runs search from the last acquisition seen minus ``look_back`` (providers publish late)."""

    name: str
    first_run_history: timedelta
    look_back: timedelta


def parse_utc(value: Any) -> datetime | None:
    """An ISO-8601 time from STAC metadata as an aware UTC datetime; None when missing or unreadable.

    ``Z`` is accepted, and a time without a zone is read as UTC (STAC requires UTC).
    """
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
