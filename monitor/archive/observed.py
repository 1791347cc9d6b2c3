"""What the archive says about what the monitor has seen: which sites hold simulated imagery, each
source's last successful search and each site's last usable scene.

:class:`SourceHealth` and :class:`SiteHealth` are the records the run's health table will give
(``Catalogue.source_health()`` / ``site_health()``). Until that table exists they are derived here from
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

#: How the simulator marks its GeoTIFFs (a tag copied into each scene's provenance).
SIMULATED_TAG = '%"SIMULATED": "yes"%'


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
    """One site's last usable scene (read, with some valid pixel of the site) and its acquisition time."""

    site: str
    last_usable_scene: str | None
    last_usable_acquired: datetime | None


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def simulated_sites(catalogue: Catalogue) -> frozenset[str]:
    """The sites holding at least one scene rendered by the simulator (``monitor demo``)."""
    rows = catalogue.query("SELECT DISTINCT site FROM scenes WHERE provenance LIKE ?", (SIMULATED_TAG,))
    return frozenset(str(r["site"]) for r in rows)


def simulated_scenes(catalogue: Catalogue, site: str | None = None) -> frozenset[tuple[str, str]]:
    """(site, scene_id) of every scene rendered by the simulator (of one site, or all)."""
    rows = catalogue.query(
        "SELECT site, scene_id FROM scenes WHERE provenance LIKE ? AND (? IS NULL OR site = ?)",
        (SIMULATED_TAG, site, site),
    )
    return frozenset((str(r["site"]), str(r["scene_id"])) for r in rows)


def source_health(catalogue: Catalogue) -> tuple[SourceHealth, ...]:
    """Every source the archive has a trace of, by name (see the module docstring for what is known)."""
    # an archive a run has not migrated yet (read-only users cannot migrate it) may have no cursors
    cursors = catalogue.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'source_cursors'")
    union = " UNION ALL SELECT source, updated_at AS t FROM source_cursors" if cursors else ""
    rows = catalogue.query(
        f"SELECT source, MAX(t) AS last FROM (SELECT source, updated_at AS t FROM scenes{union}) "
        "GROUP BY source ORDER BY source"
    )
    return tuple(SourceHealth(str(r["source"]), _time(r["last"]), 0, None) for r in rows)


def site_health(catalogue: Catalogue) -> tuple[SiteHealth, ...]:
    """Every site in the archive with its newest usable scene (None when it has none)."""
    sites = [str(r["site"]) for r in catalogue.query("SELECT DISTINCT site FROM scenes ORDER BY site")]
    out = []
    for site in sites:
        rows = catalogue.query(
            "SELECT scene_id, acquired FROM scenes WHERE site = ? AND status = 'ok' AND usable_fraction > 0 "
            "AND acquired IS NOT NULL ORDER BY acquired DESC, scene_id DESC LIMIT 1",
            (site,),
        )
        row = rows[0] if rows else None
        out.append(SiteHealth(site, row["scene_id"] if row else None, _time(row["acquired"]) if row else None))
    return tuple(out)
