"""What the archive says about what the monitor has seen: which sites hold simulated imagery, each
source's last successful search and each site's last usable scene.

:class:`SourceHealth` and :class:`SiteHealth` are the records the run's health table will give
(``Catalogue.source_health()`` / ``site_health(min_usable_fraction)``). Until that table exists they are
derived here, with the same signatures, from
what every archive already records: a search is known to have succeeded when it left a trace (a scene
recorded from that source, or its search cursor moved); a failed search leaves none, so
``consecutive_failures`` is 0 and ``last_error`` None in this derivation, and ``last_success`` is None
for a source whose searches have all failed (or that has never been run). Readers must therefore say
"no successful search recorded", never "no failures".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.archive.catalogue import Catalogue
from monitor.archive.records import SceneStatus


@dataclass(frozen=True)
class SourceHealth:
    """One source's searches: the last that succeeded (UTC, None if none is recorded), how many failed
    since, and the last failure's message."""

    source: str
    last_success: datetime | None
    consecutive_failures: int
    last_error: str | None


@dataclass(frozen=True)
class SiteHealth:
    """One site's last usable scene (read, at least the usable share of the site clear and valid) and its
    acquisition time."""

    site: str
    last_usable_scene: str | None
    last_usable_acquired: datetime | None


#: Whether :func:`source_health` knows failed searches (False: this derivation sees only successes).
RECORDS_FAILURES = False

#: Share of a site that must be clear and valid for a scene to count as a usable view, 0..1 (the default
#: of ``[alerts] min_usable_fraction``: below it an observation can neither raise nor resolve an alert).
USABLE_FRACTION = 0.3


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def simulated_scenes(catalogue: Catalogue, site: str | None = None) -> frozenset[tuple[str, str]]:
    """(site, scene_id) of every scene rendered by the simulator (of one site, or all)."""
    return frozenset((s.site, s.scene_id) for s in catalogue.scenes(site=site) if s.simulated)


def source_health(catalogue: Catalogue) -> list[SourceHealth]:
    """Every source the archive has a trace of, by name (see the module docstring for what is known)."""
    last: dict[str, str] = {}
    for scene in catalogue.scenes():
        if scene.updated_at:
            last[scene.source] = max(last.get(scene.source, ""), scene.updated_at)
    for source, updated_at in catalogue.cursor_updates():
        last[source] = max(last.get(source, ""), updated_at)
    return [SourceHealth(name, _time(t), 0, None) for name, t in sorted(last.items())]


def site_health(catalogue: Catalogue, min_usable_fraction: float = USABLE_FRACTION) -> list[SiteHealth]:
    """Every site in the archive with its newest usable scene (read, at least ``min_usable_fraction`` of the
    site clear and valid; None when it has none)."""
    out = []
    for site in catalogue.site_ids():
        scenes = catalogue.scenes(site=site, status=SceneStatus.OK)
        usable = [s for s in scenes if s.usable_fraction >= min_usable_fraction and s.acquired]
        best = max(usable, key=lambda s: (s.acquired or "", s.scene_id), default=None)
        out.append(SiteHealth(site, best.scene_id if best else None, _time(best.acquired) if best else None))
    return out
