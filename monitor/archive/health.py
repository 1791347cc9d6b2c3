"""The archive's record of whether the monitor can see: each source's searches, each site's last usable
scene, and which "monitor is blind" notices are standing (so each is sent once, and its recovery once).

A mixin of :class:`~monitor.archive.catalogue.Catalogue`: every statement about health is here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

#: The share of a site's pixels a scene must have clear and valid to count as a usable view; the same
#: default as ``[alerts] min_usable_fraction`` (below it an observation cannot raise or resolve an alert).
USABLE_FRACTION = 0.3

Subject = Literal["site", "source"]

#: The migration that creates the health tables (appended to ``catalogue.MIGRATIONS``).
MIGRATION = """
    CREATE TABLE source_health (
        source TEXT PRIMARY KEY,
        last_success TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE health_notices (
        subject TEXT NOT NULL CHECK (subject IN ('site', 'source')),
        name TEXT NOT NULL,
        blind INTEGER NOT NULL,
        reason TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        PRIMARY KEY (subject, name)
    );
"""


@dataclass(frozen=True)
class SourceHealth:
    """One source's searches: when the last run whose searches all succeeded ran (UTC), how many runs in
    a row had a failed search since (0 when the last one succeeded), and the last error seen."""

    source: str
    last_success: datetime | None
    consecutive_failures: int
    last_error: str | None


@dataclass(frozen=True)
class SiteHealth:
    """One site's newest usable scene (status ok, at least ``USABLE_FRACTION`` of the site clear and
    valid) and its acquisition time (UTC); None before the first."""

    site: str
    last_usable_scene: str | None
    last_usable_acquired: datetime | None


@dataclass(frozen=True)
class HealthNotice:
    """The standing state of a site or source as last notified: ``blind`` with its reason, since
    ``changed_at`` (UTC). No row: never notified, i.e. seeing."""

    subject: Subject
    name: str
    blind: bool
    reason: str
    changed_at: datetime


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).replace(microsecond=0).isoformat()


class HealthMixin:
    """Health statements of the catalogue. Writes join the enclosing ``transaction()``, as every write of
    the catalogue does."""

    if TYPE_CHECKING:  # provided by Catalogue

        def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]: ...

        def _write(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def record_source_run(self, source: str, error: str | None, at: datetime) -> None:
        """Record one run's searches of ``source``: all succeeded (``error`` None), or one failed."""
        if error is None:
            self._write(
                "INSERT INTO source_health (source, last_success, consecutive_failures, updated_at) "
                "VALUES (?, ?, 0, ?) ON CONFLICT (source) DO UPDATE SET last_success = excluded.last_success, "
                "consecutive_failures = 0, updated_at = excluded.updated_at",
                (source, _iso(at), _iso(at)),
            )
        else:
            self._write(
                "INSERT INTO source_health (source, consecutive_failures, last_error, updated_at) "
                "VALUES (?, 1, ?, ?) ON CONFLICT (source) DO UPDATE SET "
                "consecutive_failures = source_health.consecutive_failures + 1, last_error = excluded.last_error, "
                "updated_at = excluded.updated_at",
                (source, error, _iso(at)),
            )

    def source_health(self) -> list[SourceHealth]:
        """Every source that has been searched, by name."""
        return [
            SourceHealth(r["source"], _time(r["last_success"]), int(r["consecutive_failures"]), r["last_error"])
            for r in self._rows(
                "SELECT source, last_success, consecutive_failures, last_error FROM source_health ORDER BY source"
            )
        ]

    def site_health(self, min_usable_fraction: float = USABLE_FRACTION) -> list[SiteHealth]:
        """Every site in the archive (scenes or a recorded grid) with its newest usable scene, by id."""
        rows = self._rows(
            "SELECT s.site AS site, u.scene_id AS scene_id, u.acquired AS acquired "
            "FROM (SELECT site FROM site_grids UNION SELECT site FROM scenes) s LEFT JOIN ("
            " SELECT site, scene_id, acquired, ROW_NUMBER() OVER (PARTITION BY site ORDER BY acquired DESC, "
            " scene_id DESC) AS n FROM scenes WHERE status = 'ok' AND usable_fraction >= ? AND acquired IS NOT NULL"
            ") u ON u.site = s.site AND u.n = 1 ORDER BY s.site",
            (min_usable_fraction,),
        )
        return [SiteHealth(r["site"], r["scene_id"], _time(r["acquired"])) for r in rows]

    def watched_since(self) -> dict[str, datetime]:
        """When the monitor started watching each site: its first run (the grid was recorded then)."""
        return {r["site"]: datetime.fromisoformat(r["created_at"]) for r in self._rows("SELECT * FROM site_grids")}

    def health_notices(self) -> list[HealthNotice]:
        """The standing notice of every site and source that has ever been notified blind."""
        return [
            HealthNotice(
                r["subject"], r["name"], bool(r["blind"]), r["reason"], datetime.fromisoformat(r["changed_at"])
            )
            for r in self._rows("SELECT * FROM health_notices ORDER BY subject, name")
        ]

    def set_health_notice(self, notice: HealthNotice) -> None:
        """Record a notice as sent (in the transaction that queues its message)."""
        self._write(
            "INSERT INTO health_notices (subject, name, blind, reason, changed_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (subject, name) DO UPDATE SET blind = excluded.blind, reason = excluded.reason, "
            "changed_at = excluded.changed_at",
            (notice.subject, notice.name, int(notice.blind), notice.reason, _iso(notice.changed_at)),
        )
