"""What the archive says about what the monitor has seen: which sites hold simulated imagery, each
source's last successful search and each site's last usable scene.

:class:`SourceHealth` and :class:`SiteHealth` are the records the run's health table will give
(``Catalogue.source_health()`` / ``site_health(min_usable_fraction)``, :mod:`monitor.archive.health`),
and this module returns those once a run has migrated the archive. An archive without that table
(read-only users cannot migrate it) gets them derived here, with the same signatures, from
what every archive already records: a search is known to have succeeded when it left a trace (a scene
recorded from that source, or its search cursor moved); a failed search leaves none, so
``consecutive_failures`` is 0 and ``last_error`` None in this derivation, and ``last_success`` is None
for a source whose searches have all failed (or that has never been run). Readers must therefore say
"no successful search recorded", never "no failures".
"""

from __future__ import annotations

from datetime import datetime

from monitor.archive.catalogue import Catalogue
from monitor.archive.health import SiteHealth, SourceHealth
from monitor.archive.records import SceneStatus


def records_failures(catalogue: Catalogue) -> bool:
    """Whether this archive records failed searches (its runs have the health table); False: only the
    derivation below, which sees successes only."""
    return catalogue.has_table("source_health")


#: Share of a site that must be clear and valid for a scene to count as a usable view, 0..1 (the default
#: of ``[alerts] min_usable_fraction``: below it an observation can neither raise nor resolve an alert).
USABLE_FRACTION = 0.3


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def simulated_scenes(catalogue: Catalogue, site: str | None = None) -> frozenset[tuple[str, str]]:
    """(site, scene_id) of every scene rendered by the simulator (of one site, or all)."""
    return frozenset((s.site, s.scene_id) for s in catalogue.scenes(site=site) if s.simulated)


def source_health(catalogue: Catalogue) -> list[SourceHealth]:
    """Every source the archive has a trace of, by name: the health table's records when the archive has
    it, else derived (see the module docstring for what is known then)."""
    if records_failures(catalogue):
        return catalogue.source_health()
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
    if catalogue.has_table("source_health"):  # an archive migrated by a run: the catalogue's query
        return catalogue.site_health(min_usable_fraction)
    out = []
    for site in catalogue.site_ids():
        scenes = catalogue.scenes(site=site, status=SceneStatus.OK)
        usable = [s for s in scenes if s.usable_fraction >= min_usable_fraction and s.acquired]
        best = max(usable, key=lambda s: (s.acquired or "", s.scene_id), default=None)
        out.append(SiteHealth(site, best.scene_id if best else None, _time(best.acquired) if best else None))
    return out
