"""The SQLite catalogue of the archive: scenes, baselines, scores, alerts, the outbox and runs.

WAL journal, foreign keys on, schema versioned by ``PRAGMA user_version`` with forward-only migrations.
Every change that belongs to one scene commits in one transaction (``with catalogue.transaction():``).
This module holds every SQL statement of the monitor; the rest of the code calls its methods with and
gets back the frozen records of :mod:`monitor.archive.records`.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from monitor.archive.files import umask
from monitor.archive.health import MIGRATION as HEALTH_MIGRATION
from monitor.archive.health import HealthMixin
from monitor.archive.records import (
    Alert,
    AlertLevel,
    AlertStatus,
    BaselineVersion,
    FeedbackAction,
    FeedbackRecord,
    NotificationRecord,
    OutboxMessage,
    OutboxStatus,
    RunRecord,
    SceneRecord,
    SceneStatus,
    SceneTime,
    ScoreRecord,
    SiteGridRecord,
    SiteStats,
)
from monitor.archive.space import explained
from monitor.detect.classes import DetectionClass
from monitor.errors import ArchiveError
from monitor.provenance import SIMULATED_TAG, is_simulated

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE scenes (
        site TEXT NOT NULL,
        scene_id TEXT NOT NULL,
        source TEXT NOT NULL,
        acquired TEXT,
        sensor TEXT NOT NULL,
        href TEXT,
        checksum TEXT,
        status TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'empty')),
        reason TEXT,
        attempts INTEGER NOT NULL DEFAULT 1,
        crop TEXT,
        usable_fraction REAL NOT NULL DEFAULT 0,
        provenance TEXT NOT NULL DEFAULT '{}',
        scored INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (site, scene_id)
    );
    CREATE INDEX scenes_by_time ON scenes (site, acquired);
    CREATE TABLE baselines (
        site TEXT NOT NULL,
        sensor TEXT NOT NULL,
        version INTEGER NOT NULL,
        scene_ids TEXT NOT NULL,
        path TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (site, sensor, version)
    );
    CREATE TABLE scores (
        site TEXT NOT NULL,
        zone TEXT NOT NULL,
        scene_id TEXT NOT NULL,
        acquired TEXT,
        sensor TEXT NOT NULL,
        usable_fraction REAL NOT NULL,
        change_fraction REAL,
        crowd_score REAL,
        vehicle_score REAL,
        state TEXT NOT NULL,
        baseline_version INTEGER,
        detections TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (site, zone, scene_id),
        FOREIGN KEY (site, scene_id) REFERENCES scenes (site, scene_id) ON DELETE CASCADE
    );
    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        site TEXT NOT NULL,
        zone TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('crowd', 'vehicle')),
        level TEXT NOT NULL CHECK (level IN ('low', 'medium', 'high')),
        status TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        scene_ids TEXT NOT NULL,
        score REAL NOT NULL,
        evidence TEXT NOT NULL DEFAULT '[]',
        quiet INTEGER NOT NULL DEFAULT 0,
        resolved_at TEXT,
        notified_level TEXT,
        notified_status TEXT
    );
    CREATE INDEX alerts_open ON alerts (site, zone, kind, status);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        recipients TEXT NOT NULL,
        subject TEXT NOT NULL,
        path TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'written')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        sent_at TEXT
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        new_scenes INTEGER NOT NULL DEFAULT 0,
        failed_scenes INTEGER NOT NULL DEFAULT 0,
        alerts_changed INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 2: the analysis grid of each site, so that a changed bbox or resolution is caught, not mixed in
    """
    CREATE TABLE site_grids (
        site TEXT PRIMARY KEY,
        crs TEXT NOT NULL,
        transform TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # 3: when an alert last took an observation into account (quiet ones too), to refuse late ones
    """
    ALTER TABLE alerts ADD COLUMN last_observed TEXT;
    """,
    # 4: analyst feedback (ack, dismiss with a reason), notification history, repeat interval, sensors
    """
    ALTER TABLE alerts ADD COLUMN sensors TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE alerts ADD COLUMN notified_at TEXT;
    ALTER TABLE alerts ADD COLUMN acked_at TEXT;
    ALTER TABLE alerts ADD COLUMN dismissed_at TEXT;
    ALTER TABLE alerts ADD COLUMN dismiss_reason TEXT;
    ALTER TABLE alerts ADD COLUMN suppress_until TEXT;
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('ack', 'dismiss')),
        reason TEXT,
        at TEXT NOT NULL,
        analyst TEXT
    );
    CREATE INDEX feedback_by_alert ON feedback (alert_id);
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        action TEXT NOT NULL,
        level TEXT NOT NULL,
        status TEXT NOT NULL,
        queued_at TEXT NOT NULL
    );
    CREATE INDEX notifications_by_alert ON notifications (alert_id);
    """,
    # 5: remote sources: which overpass a scene is (platform, relative orbit), what was done to its values
    # (Sentinel-2 offset), what it cost (Sentinel Hub processing units), and how far each source has been
    # searched for each site (incremental search)
    """
    ALTER TABLE scenes ADD COLUMN platform TEXT;
    ALTER TABLE scenes ADD COLUMN orbit INTEGER;
    ALTER TABLE scenes ADD COLUMN harmonisation TEXT;
    ALTER TABLE scenes ADD COLUMN processing_units REAL;
    CREATE TABLE source_cursors (
        source TEXT NOT NULL,
        site TEXT NOT NULL,
        last_acquired TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (source, site)
    );
    """,
    # 6: detection: each scene's co-registration (shift applied, px east / south, and whether it could be
    # registered), and how each baseline was composed (which rule chose its scenes, which were kept out)
    """
    ALTER TABLE scenes ADD COLUMN shift_dx REAL;
    ALTER TABLE scenes ADD COLUMN shift_dy REAL;
    ALTER TABLE scenes ADD COLUMN registration TEXT;
    ALTER TABLE baselines ADD COLUMN composition TEXT NOT NULL DEFAULT '{}';
    """,
    # 7: health: each source's searches (last success, failed runs in a row, last error) and the standing
    # "monitor is blind" notices, so each is sent once and its recovery once (archive/health.py)
    HEALTH_MIGRATION,
)


def utcnow() -> str:
    """Now, ISO-8601 UTC with seconds."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def iso(t: datetime | None) -> str | None:
    """An aware datetime as ISO-8601 UTC (``2023-01-15T02:15:30+00:00``), or None."""
    return None if t is None else t.astimezone(UTC).isoformat()


#: A scene that could not be co-registered never enters a baseline nor the quiet history.
_REGISTERED = "(registration IS NULL OR registration NOT LIKE 'unregistered%')"
#: Usable scenes before a time that are quiet (scored, compared in a zone, none hazy, unregistered or
#: failed, below the threshold in every zone's crowd and vehicle score, no zone with the shadow of a
#: cloud SCL left clear: SCL's own shadows are masked pixel by pixel in a baseline, those it missed would
#: enter it); ``{columns}`` is filled in.
_QUIET_SQL = (
    "SELECT {columns} FROM scenes s WHERE s.site = ? AND s.sensor = ? AND s.status = 'ok' "
    "AND s.scored = 1 AND s.usable_fraction >= ? AND s.acquired < ? "
    "AND (s.registration IS NULL OR s.registration NOT LIKE 'unregistered%') "
    "AND EXISTS (SELECT 1 FROM scores c WHERE c.site = s.site AND c.scene_id = s.scene_id "
    "AND c.state = 'scored') "
    "AND NOT EXISTS (SELECT 1 FROM scores c WHERE c.site = s.site AND c.scene_id = s.scene_id AND "
    "(c.state NOT IN ('scored', 'unusable') OR COALESCE(c.crowd_score, 0) >= ? "
    "OR COALESCE(c.vehicle_score, 0) >= ? "
    "OR EXISTS (SELECT 1 FROM json_each(COALESCE(c.detections, '[]')) d "
    "WHERE json_extract(d.value, '$.cls') = '" + DetectionClass.CLOUD_SHADOW.value + "'))) "
    "ORDER BY s.acquired, s.scene_id"
)
_SCENE_COLUMNS = tuple(f.name for f in fields(SceneRecord))
_SCORE_COLUMNS = tuple(f.name for f in fields(ScoreRecord))
_ALERT_COLUMNS = tuple(f.name for f in fields(Alert))


def _scene(row: sqlite3.Row) -> SceneRecord:
    values = {k: v for k, v in dict(row).items() if k in _SCENE_COLUMNS}
    values["provenance"] = json.loads(values.get("provenance") or "{}")
    return SceneRecord(**values)


def _score(row: sqlite3.Row) -> ScoreRecord:
    values = {k: v for k, v in dict(row).items() if k in _SCORE_COLUMNS}
    values["detections"] = tuple(json.loads(values.get("detections") or "[]"))
    return ScoreRecord(**values)


def _alert(row: sqlite3.Row) -> Alert:
    values = {k: v for k, v in dict(row).items() if k in _ALERT_COLUMNS}
    for name in ("scene_ids", "evidence", "sensors"):
        values[name] = tuple(json.loads(values.get(name) or "[]"))
    return Alert(**values)


def _baseline(row: sqlite3.Row) -> BaselineVersion:
    return BaselineVersion(
        site=row["site"],
        sensor=row["sensor"],
        version=int(row["version"]),
        scene_ids=tuple(json.loads(row["scene_ids"])),
        path=row["path"],
        created_at=row["created_at"],
        composition=json.loads(dict(row).get("composition") or "{}"),
    )


#: Seconds a write waits for another process's write transaction (SQLite's busy timeout).
BUSY_TIMEOUT_S = 30.0


def _busy_or(exc: sqlite3.Error, path: Path) -> str:
    """The message for a write SQLite refused: busy (another process kept writing) or the error itself."""
    if "locked" in str(exc) or "busy" in str(exc):
        return f"the catalogue {path} stayed locked by another monitor process for {BUSY_TIMEOUT_S:.0f} s; try again"
    return explained(f"cannot write the catalogue {path}: {exc}", path)


def _marks(values: Sequence[object] | dict[str, Any]) -> str:
    return ",".join("?" for _ in values) or "NULL"


class Catalogue(HealthMixin):
    """The archive's SQLite catalogue at ``data_dir/catalogue.sqlite``: the only code that speaks SQL.

    Reads return frozen records (:mod:`monitor.archive.records`). Writes take records; a write outside
    :meth:`transaction` commits on its own, inside one it commits with the rest of the unit of work.
    Health statements come from :class:`~monitor.archive.health.HealthMixin`.
    """

    FILENAME = "catalogue.sqlite"

    def __init__(self, data_dir: Path, *, readonly: bool = False) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / self.FILENAME
        if readonly and not self.path.exists():
            raise ArchiveError(f"no archive at {self.data_dir} (run `monitor run` first)")
        try:
            if readonly:
                db = self._connect_readonly()
            else:
                self.data_dir.mkdir(parents=True, exist_ok=True)
                new = not self.path.exists()
                db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
                if new:
                    os.chmod(self.path, 0o666 & ~umask())
        except (sqlite3.Error, OSError) as exc:
            raise ArchiveError(explained(f"cannot open the catalogue {self.path}: {exc}", self.path)) from exc
        self.db = db
        try:
            if not readonly:
                db.execute("PRAGMA journal_mode=WAL")
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys=ON")
            if not readonly:
                self._migrate()
            elif self.schema_version() > len(MIGRATIONS):
                raise ArchiveError(f"{self.path} was written by a newer monitor (schema {self.schema_version()})")
        except (sqlite3.Error, ArchiveError) as exc:
            db.close()
            if isinstance(exc, ArchiveError):
                raise
            raise ArchiveError(explained(f"cannot open the catalogue {self.path}: {exc}", self.path)) from exc

    def _connect_readonly(self) -> sqlite3.Connection:
        """A read-only connection. An analyst account that cannot write ``data_dir`` cannot create the WAL
        index SQLite needs even to read, so it falls back to reading the file as immutable (a snapshot)."""
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
        try:
            db.execute("PRAGMA user_version").fetchone()
            return db
        except sqlite3.OperationalError:
            db.close()
            return sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, isolation_level=None)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> Catalogue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        """The schema version stored in the file (0 for a new file)."""
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        current = self.schema_version()
        if current > len(MIGRATIONS):
            raise ArchiveError(f"{self.path} was written by a newer monitor (schema {current})")
        for version in range(current + 1, len(MIGRATIONS) + 1):
            with self.transaction():
                for statement in MIGRATIONS[version - 1].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {version}")

    @contextmanager
    def transaction(self) -> Iterator[Catalogue]:
        """One atomic unit of work: commits on success, rolls back on any error. Nested calls join the
        outer transaction (it commits once, at its end).

        ``BEGIN IMMEDIATE`` takes SQLite's write lock at once, waiting up to :data:`BUSY_TIMEOUT_S` for
        another process's write transaction to end (WAL: readers never wait). The archive's writers
        (``monitor run``/``backfill``, ``monitor alerts ack|dismiss``) keep each transaction to one
        scene's rows or one analyst action, so the wait is short. Still busy after it, or a commit that
        fails (disk full), is an :class:`ArchiveError` naming the file; nothing of the unit is kept."""
        if self.db.in_transaction:
            yield self
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise ArchiveError(_busy_or(exc, self.path)) from exc
        try:
            yield self
        except BaseException:
            if self.db.in_transaction:  # SQLite may have rolled back itself (SQLITE_FULL)
                self.db.execute("ROLLBACK")
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise ArchiveError(explained(f"cannot commit to the catalogue {self.path}: {exc}", self.path)) from exc

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return list(self.db.execute(sql, params).fetchall())
        except sqlite3.Error as exc:
            raise ArchiveError(f"catalogue query failed: {exc}") from exc

    def _write(self, sql: str, params: Sequence[Any] = ()) -> None:
        try:
            self.db.execute(sql, params)
        except sqlite3.Error as exc:
            raise ArchiveError(_busy_or(exc, self.path)) from exc

    def has_table(self, name: str) -> bool:
        """True when the file holds table ``name`` (an archive a read-only user could not migrate lacks the
        newer ones)."""
        return bool(self._rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))

    # -- scenes ---------------------------------------------------------------------------------------
    def scene(self, site: str, scene_id: str) -> SceneRecord | None:
        """One scene, or None."""
        rows = self._rows("SELECT * FROM scenes WHERE site = ? AND scene_id = ?", (site, scene_id))
        return _scene(rows[0]) if rows else None

    def scenes(self, site: str | None = None, status: SceneStatus | str | None = None) -> list[SceneRecord]:
        """Scenes (of a site, with a status), oldest acquisition first."""
        where, params = ["1=1"], []
        if site is not None:
            where.append("site = ?")
            params.append(site)
        if status is not None:
            where.append("status = ?")
            params.append(str(status))
        sql = f"SELECT * FROM scenes WHERE {' AND '.join(where)} ORDER BY site, acquired, scene_id"
        return [_scene(r) for r in self._rows(sql, params)]

    def site_ids(self) -> list[str]:
        """The sites that have scenes in the archive."""
        return [r["site"] for r in self._rows("SELECT DISTINCT site FROM scenes ORDER BY site")]

    def site_stats(self) -> dict[str, SiteStats]:
        """Per site in the archive: scene count, first and last acquisition, alert count."""
        alerts = {r["site"]: r["n"] for r in self._rows("SELECT site, COUNT(*) AS n FROM alerts GROUP BY site")}
        rows = self._rows(
            "SELECT site, COUNT(*) AS n, MIN(acquired) AS a, MAX(acquired) AS b FROM scenes GROUP BY site"
        )
        return {r["site"]: SiteStats(r["site"], r["n"], r["a"], r["b"], alerts.get(r["site"], 0)) for r in rows}

    def simulated_sites(self) -> set[str]:
        """The sites holding simulated scenes (:func:`monitor.provenance.is_simulated`)."""
        sql = "SELECT DISTINCT site, provenance FROM scenes WHERE provenance LIKE ?"
        rows = self._rows(sql, (f"%{SIMULATED_TAG}%",))
        return {r["site"] for r in rows if is_simulated(json.loads(r["provenance"] or "{}"))}

    def upsert_scene(self, scene: SceneRecord) -> None:
        """Insert or update a scene (``attempts`` counts up on each write, ``updated_at`` is now)."""
        row = scene.as_dict()
        row["provenance"] = json.dumps(row["provenance"], sort_keys=True, default=str)
        row["status"] = str(row["status"])
        row["scored"] = int(row["scored"])
        row["updated_at"] = utcnow()
        previous = self._rows(
            "SELECT attempts FROM scenes WHERE site = ? AND scene_id = ?", (scene.site, scene.scene_id)
        )
        row["attempts"] = (previous[0][0] + 1) if previous else 1
        cols = ", ".join(row)
        updates = ", ".join(f"{c} = excluded.{c}" for c in row if c not in {"site", "scene_id"})
        # an upsert, not INSERT OR REPLACE: a replace deletes the row and cascades to its scores
        self._write(
            f"INSERT INTO scenes ({cols}) VALUES ({_marks(row)}) ON CONFLICT (site, scene_id) DO UPDATE SET {updates}",
            tuple(row.values()),
        )

    def pending_scenes(self, site: str) -> list[SceneRecord]:
        """The site's archived scenes not scored yet, oldest first."""
        return [
            _scene(r)
            for r in self._rows(
                "SELECT * FROM scenes WHERE site = ? AND status = 'ok' AND scored = 0 ORDER BY acquired, scene_id",
                (site,),
            )
        ]

    def is_pending(self, site: str, scene_id: str) -> bool:
        """True while a scene is archived and waits to be scored."""
        sql = "SELECT 1 FROM scenes WHERE site = ? AND scene_id = ? AND status = 'ok' AND scored = 0"
        return bool(self._rows(sql, (site, scene_id)))

    def scenes_missing_zones(self, site: str, zones: Sequence[str]) -> list[SceneRecord]:
        """Scored scenes of a site lacking a row for one of ``zones`` (a zone added to the config later)."""
        sql = (
            "SELECT s.* FROM scenes s WHERE s.site = ? AND s.scored = 1 AND (SELECT COUNT(*) FROM scores c WHERE "
            f"c.site = s.site AND c.scene_id = s.scene_id AND c.zone IN ({_marks(zones)})) < ? "
            "ORDER BY s.acquired, s.scene_id"
        )
        return [_scene(r) for r in self._rows(sql, (site, *zones, len(zones)))]

    def set_scored(self, site: str, scene_id: str, scored: bool) -> None:
        """Mark a scene's score rows as final (True), or to be computed again (False)."""
        self._write("UPDATE scenes SET scored = ? WHERE site = ? AND scene_id = ?", (int(scored), site, scene_id))

    def set_registration(
        self, site: str, scene_id: str, registration: str, shift_dx: float | None, shift_dy: float | None
    ) -> None:
        """Record a scene's co-registration outcome and the shift applied (px east, px south)."""
        self._write(
            "UPDATE scenes SET shift_dx = ?, shift_dy = ?, registration = ? WHERE site = ? AND scene_id = ?",
            (shift_dx, shift_dy, registration, site, scene_id),
        )

    def set_harmonisation(self, site: str, scene_id: str, harmonisation: str) -> None:
        """Record what was done to a scene's BOA offset when the scorer found the provider's flag wrong
        (``sources.harmonise.level_corrected``): it replaces what the item's metadata said."""
        self._write(
            "UPDATE scenes SET harmonisation = ? WHERE site = ? AND scene_id = ?", (harmonisation, site, scene_id)
        )

    def crop_lost(self, site: str, scene_id: str, reason: str) -> None:
        """A scene whose archived crop is gone: failed with ``reason`` and its attempts reset, so the next
        run fetches it again. Scores already computed from the crop are kept; an unscored scene's rows say
        ``failed``."""
        unscored = self.is_pending(site, scene_id)
        self._write(
            "UPDATE scenes SET status = 'failed', reason = ?, scored = 1, attempts = 0 WHERE site = ? AND scene_id = ?",
            (reason, site, scene_id),
        )
        if unscored:
            self._write(
                "UPDATE scores SET state = 'failed', usable_fraction = 0, change_fraction = NULL, crowd_score = NULL, "
                "vehicle_score = NULL, detections = '[]' WHERE site = ? AND scene_id = ?",
                (site, scene_id),
            )

    def usable_scenes(self, site: str, sensor: str, min_usable: float) -> list[SceneRecord]:
        """Archived, registrable scenes of a site and sensor with at least ``min_usable`` of the site
        clear (0..1), oldest first: the warm-up candidates."""
        sql = (
            "SELECT * FROM scenes WHERE site = ? AND sensor = ? AND status = 'ok' AND usable_fraction >= ? "
            f"AND {_REGISTERED} ORDER BY acquired, scene_id"
        )
        return [_scene(r) for r in self._rows(sql, (site, sensor, min_usable))]

    def quiet_scenes(
        self, site: str, sensor: str, min_usable: float, before: datetime, threshold: float
    ) -> list[SceneRecord]:
        """Usable scenes acquired before ``before`` that are quiet: scored (at least one zone compared,
        none hazy, unregistered or failed) and below ``threshold`` in every zone's crowd and vehicle score,
        oldest first. (Alerted scenes are the caller's to leave out.)"""
        sql = _QUIET_SQL.format(columns="s.*")
        return [_scene(r) for r in self._rows(sql, (site, sensor, min_usable, iso(before), threshold, threshold))]

    def usable_scene_times(self, site: str, sensor: str, min_usable: float) -> list[SceneTime]:
        """The scenes of :meth:`usable_scenes`, as (id, time, orbit) only: what the baseline choice reads."""
        sql = (
            "SELECT scene_id, acquired, orbit FROM scenes WHERE site = ? AND sensor = ? AND status = 'ok' "
            f"AND usable_fraction >= ? AND {_REGISTERED} ORDER BY acquired, scene_id"
        )
        return [SceneTime(r[0], r[1], r[2]) for r in self._rows(sql, (site, sensor, min_usable))]

    def quiet_scene_times(
        self, site: str, sensor: str, min_usable: float, before: datetime, threshold: float
    ) -> list[SceneTime]:
        """The scenes of :meth:`quiet_scenes`, as (id, time, orbit) only: what the baseline choice reads."""
        sql = _QUIET_SQL.format(columns="s.scene_id, s.acquired, s.orbit")
        rows = self._rows(sql, (site, sensor, min_usable, iso(before), threshold, threshold))
        return [SceneTime(r[0], r[1], r[2]) for r in rows]

    def state_stamp(self) -> tuple[int, int]:
        """A value that changes whenever the archive's content may have changed: rows written through this
        connection (``total_changes``) and commits by any other (``PRAGMA data_version``). What is derived
        from the archive can be kept while the stamp stays the same."""
        return self.db.total_changes, int(self._rows("PRAGMA data_version")[0][0])

    def archived_crops(self, site: str, scene_ids: Sequence[str]) -> list[SceneRecord]:
        """Those of ``scene_ids`` that have an archived crop, oldest first."""
        sql = (
            f"SELECT * FROM scenes WHERE site = ? AND scene_id IN ({_marks(scene_ids)}) AND crop IS NOT NULL "
            "ORDER BY acquired, scene_id"
        )
        return [_scene(r) for r in self._rows(sql, (site, *scene_ids))]

    def acquisition_span(self, site: str, scene_ids: Sequence[str]) -> tuple[str | None, str | None]:
        """The first and last acquisition (ISO-8601) of ``scene_ids``; (None, None) if none is known."""
        sql = (
            "SELECT MIN(acquired) AS a, MAX(acquired) AS b FROM scenes "
            f"WHERE site = ? AND scene_id IN ({_marks(scene_ids)})"
        )
        row = self._rows(sql, (site, *scene_ids))[0]
        return row["a"], row["b"]

    # -- scores ---------------------------------------------------------------------------------------
    def _insert_score(self, row: ScoreRecord) -> None:
        values = row.as_dict()
        values["detections"] = json.dumps(values["detections"], sort_keys=True)
        values["state"] = str(values["state"])
        self._write(f"INSERT INTO scores ({', '.join(values)}) VALUES ({_marks(values)})", tuple(values.values()))

    def replace_scores(self, site: str, scene_id: str, rows: Sequence[ScoreRecord]) -> None:
        """Replace every score row of one scene."""
        self._write("DELETE FROM scores WHERE site = ? AND scene_id = ?", (site, scene_id))
        for row in rows:
            self._insert_score(row)

    def add_scores(self, rows: Sequence[ScoreRecord]) -> None:
        """Add score rows (zones a scene has no row for yet)."""
        for row in rows:
            self._insert_score(row)

    def scored_zones(self, site: str, scene_id: str) -> set[str]:
        """The zones a scene has score rows for."""
        rows = self._rows("SELECT zone FROM scores WHERE site = ? AND scene_id = ?", (site, scene_id))
        return {r["zone"] for r in rows}

    def scores(self, site: str | None = None, zone: str | None = None) -> list[ScoreRecord]:
        """Score rows, ordered by site, acquisition, scene, zone."""
        where, params = ["1=1"], []
        for column, value in (("site", site), ("zone", zone)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = f"SELECT * FROM scores WHERE {' AND '.join(where)} ORDER BY site, acquired, scene_id, zone"
        return [_score(r) for r in self._rows(sql, params)]

    def zone_history(
        self, site: str, zone: str, sensor: str, min_usable: float, since: datetime, before: datetime
    ) -> list[ScoreRecord]:
        """A zone's scored observations of one sensor with at least ``min_usable`` of it clear, acquired in
        [``since``, ``before``), oldest first: what the tracking compares a new scene's detections with."""
        sql = (
            "SELECT * FROM scores WHERE site = ? AND zone = ? AND sensor = ? AND state = 'scored' "
            "AND usable_fraction >= ? AND acquired < ? AND acquired >= ? ORDER BY acquired"
        )
        return [_score(r) for r in self._rows(sql, (site, zone, sensor, min_usable, iso(before), iso(since)))]

    def recent_observations(
        self, site: str, zone: str, sensor: str, min_usable: float, before: datetime, limit: int
    ) -> list[tuple[ScoreRecord, str]]:
        """The last ``limit`` scored observations of a zone before ``before`` that still have their crop,
        newest first, with the crop's path: the frames of an alert's animation."""
        sql = (
            "SELECT c.*, s.crop AS crop FROM scores c JOIN scenes s ON s.site = c.site AND s.scene_id = c.scene_id "
            "WHERE c.site = ? AND c.zone = ? AND c.sensor = ? AND c.state = 'scored' AND c.usable_fraction >= ? "
            "AND c.acquired < ? AND s.crop IS NOT NULL ORDER BY c.acquired DESC LIMIT ?"
        )
        rows = self._rows(sql, (site, zone, sensor, min_usable, iso(before), limit))
        return [(_score(r), r["crop"]) for r in rows]

    def scored_baseline_version(self, site: str, scene_id: str) -> int | None:
        """The baseline version a scene was scored against (None if it was not)."""
        sql = "SELECT MAX(baseline_version) AS v FROM scores WHERE site = ? AND scene_id = ?"
        row = self._rows(sql, (site, scene_id))
        return None if not row or row[0]["v"] is None else int(row[0]["v"])

    # -- incremental search ------------------------------------------------------------------------------
    def last_acquired(self, source: str, site: str) -> datetime | None:
        """The newest acquisition ``source`` has returned for ``site`` so far, or None before its first search."""
        rows = self._rows("SELECT last_acquired FROM source_cursors WHERE source = ? AND site = ?", (source, site))
        return datetime.fromisoformat(rows[0]["last_acquired"]) if rows else None

    def cursor_updates(self) -> list[tuple[str, str]]:
        """(source, when its search cursor last moved, ISO-8601 UTC) for every source and site; empty on an
        archive a run has not migrated to search cursors yet."""
        if not self.has_table("source_cursors"):
            return []
        return [(r["source"], r["updated_at"]) for r in self._rows("SELECT source, updated_at FROM source_cursors")]

    def set_last_acquired(self, source: str, site: str, acquired: datetime) -> None:
        """Move the search cursor of ``source`` and ``site`` forward to ``acquired`` (never back)."""
        self._write(
            "INSERT INTO source_cursors (source, site, last_acquired, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (source, site) DO UPDATE SET last_acquired = excluded.last_acquired, "
            "updated_at = excluded.updated_at WHERE excluded.last_acquired > source_cursors.last_acquired",
            (source, site, iso(acquired), utcnow()),
        )

    def oldest_retryable(self, site: str, source: str, max_attempts: int) -> datetime | None:
        """The oldest acquisition of a failed scene of ``source`` with attempts left, or None."""
        rows = self._rows(
            "SELECT MIN(acquired) AS t FROM scenes WHERE site = ? AND source = ? AND status = 'failed' "
            "AND attempts < ? AND acquired IS NOT NULL",
            (site, source, max_attempts),
        )
        value = rows[0]["t"] if rows else None
        return datetime.fromisoformat(value) if value else None

    # -- baselines ------------------------------------------------------------------------------------
    def baseline(self, site: str, sensor: str) -> BaselineVersion | None:
        """The newest baseline of a site and sensor, or None."""
        rows = self._rows(
            "SELECT * FROM baselines WHERE site = ? AND sensor = ? ORDER BY version DESC LIMIT 1", (site, sensor)
        )
        return _baseline(rows[0]) if rows else None

    def baselines(self, site: str, sensor: str | None = None) -> list[BaselineVersion]:
        """Every stored baseline version of a site (and sensor), oldest version first."""
        if sensor is None:
            rows = self._rows("SELECT * FROM baselines WHERE site = ? ORDER BY sensor, version", (site,))
        else:
            rows = self._rows("SELECT * FROM baselines WHERE site = ? AND sensor = ? ORDER BY version", (site, sensor))
        return [_baseline(r) for r in rows]

    def baseline_made_of(self, site: str, sensor: str, scene_ids: Sequence[str]) -> BaselineVersion | None:
        """The newest stored version of a site and sensor that is the baseline of ``scene_ids`` (as built or
        as chosen, :meth:`BaselineVersion.made_of`), or None: one indexed look-up instead of reading every
        version's composition."""
        wanted = json.dumps(list(scene_ids))
        rows = self._rows(
            "SELECT * FROM baselines WHERE site = ? AND sensor = ? AND (json(scene_ids) = json(?) "
            "OR json_extract(composition, '$.chosen') = json(?)) ORDER BY version DESC",
            (site, sensor, wanted, wanted),
        )
        found = [b for b in map(_baseline, rows) if b.made_of(tuple(scene_ids))]
        return found[0] if found else None

    def baseline_version(self, site: str, sensor: str, version: int) -> BaselineVersion | None:
        """One stored baseline version, or None."""
        rows = self._rows(
            "SELECT * FROM baselines WHERE site = ? AND sensor = ? AND version = ?", (site, sensor, version)
        )
        return _baseline(rows[0]) if rows else None

    def newest_baseline_sensor(self, site: str) -> str | None:
        """The sensor of the site's most recently built baseline, or None."""
        rows = self._rows("SELECT sensor FROM baselines WHERE site = ? ORDER BY created_at DESC LIMIT 1", (site,))
        return str(rows[0]["sensor"]) if rows else None

    def next_baseline_version(self, site: str, sensor: str) -> int:
        """The version number a new baseline of a site and sensor gets."""
        rows = self._rows("SELECT MAX(version) AS v FROM baselines WHERE site = ? AND sensor = ?", (site, sensor))
        return 1 + int(rows[0]["v"] or 0)

    def save_baseline(self, baseline: BaselineVersion) -> None:
        """Register (or re-register, after a rebuild) a baseline version."""
        self._write(
            "INSERT OR REPLACE INTO baselines (site, sensor, version, scene_ids, path, created_at, composition) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                baseline.site,
                baseline.sensor,
                baseline.version,
                json.dumps(list(baseline.scene_ids)),
                baseline.path,
                baseline.created_at,
                json.dumps(dict(baseline.composition), sort_keys=True),
            ),
        )

    # -- site grids ----------------------------------------------------------------------------------
    def site_grid(self, site: str) -> SiteGridRecord | None:
        """The grid a site's archive was built on, or None before its first run."""
        rows = self._rows("SELECT * FROM site_grids WHERE site = ?", (site,))
        if not rows:
            return None
        r = rows[0]
        return SiteGridRecord(r["site"], r["crs"], tuple(json.loads(r["transform"])), r["width"], r["height"])

    def check_site_grid(self, site: str, crs: str, transform: tuple[float, ...], width: int, height: int) -> str | None:
        """Record a site's grid on first use; afterwards, a description of how it differs (None if same)."""
        stored = self.site_grid(site)
        now = tuple(round(v, 6) for v in transform)
        if stored is None:
            with self.transaction():
                self._write(
                    "INSERT INTO site_grids (site, crs, transform, width, height, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (site, crs, json.dumps(list(now)), width, height, utcnow()),
                )
            return None
        old = stored.transform
        if stored.crs != crs or old != now or (stored.width, stored.height) != (width, height):
            return (
                f"the archive holds this site on a {stored.width} x {stored.height} px grid in {stored.crs} with "
                f"origin ({old[2]}, {old[5]}) and {old[0]} m pixels; the config now gives {width} x "
                f"{height} px in {crs} with origin ({now[2]}, {now[5]}) and {now[0]} m pixels"
            )
        return None

    # -- alerts ---------------------------------------------------------------------------------------
    def alerts(self, site: str | None = None) -> list[Alert]:
        """Alerts (of a site), oldest first."""
        if site is None:
            return [_alert(r) for r in self._rows("SELECT * FROM alerts ORDER BY first_seen, id")]
        return [_alert(r) for r in self._rows("SELECT * FROM alerts WHERE site = ? ORDER BY first_seen, id", (site,))]

    def latest_alert(self, site: str, zone: str, kind: str) -> Alert | None:
        """The most recent alert of a site, zone and kind (firing or resolved); None if none."""
        rows = self._rows(
            "SELECT * FROM alerts WHERE site = ? AND zone = ? AND kind = ? ORDER BY first_seen DESC, id DESC LIMIT 1",
            (site, zone, kind),
        )
        return _alert(rows[0]) if rows else None

    def alert(self, alert_id: str) -> Alert | None:
        """One alert; None if there is no such id."""
        rows = self._rows("SELECT * FROM alerts WHERE id = ?", (alert_id,))
        return _alert(rows[0]) if rows else None

    def alerted_scenes(self, site: str) -> set[str]:
        """Every scene that raised or confirmed an alert of the site (or was marked on a dismissed one)."""
        rows = self._rows("SELECT scene_ids FROM alerts WHERE site = ?", (site,))
        return {scene_id for r in rows for scene_id in json.loads(r[0] or "[]")}

    def save_alert(self, alert: Alert) -> None:
        """Insert or replace an alert."""
        row = alert.as_dict()
        for name in ("scene_ids", "evidence", "sensors"):
            row[name] = json.dumps(row[name])
        row = {k: (str(v) if isinstance(v, StrEnum) else v) for k, v in row.items()}
        self._write(f"INSERT OR REPLACE INTO alerts ({', '.join(row)}) VALUES ({_marks(row)})", tuple(row.values()))

    def changed_alerts(self) -> list[Alert]:
        """Alerts whose level or status differs from what their last message said (or never had one)."""
        sql = "SELECT * FROM alerts WHERE notified_level IS NOT level OR notified_status IS NOT status"
        return [_alert(r) for r in self._rows(sql)]

    def reminder_alerts(self, notified_before: str) -> list[Alert]:
        """Firing alerts, announced as they are, neither acknowledged nor dismissed, last notified at or
        before ``notified_before`` (ISO-8601 UTC): due for a ``STILL FIRING`` reminder."""
        sql = (
            "SELECT * FROM alerts WHERE status = 'firing' AND notified_status = 'firing' AND notified_level = level "
            "AND acked_at IS NULL AND dismissed_at IS NULL AND notified_at IS NOT NULL AND notified_at <= ?"
        )
        return [_alert(r) for r in self._rows(sql, (notified_before,))]

    def mark_notified(self, message_id: str, notices: Sequence[tuple[Alert, str]], at: str) -> None:
        """The alerts of message ``message_id`` are announced as they are now (``notices``: each alert and
        what the message said about it), and the notification history records it."""
        for alert, action in notices:
            self._write(
                "UPDATE alerts SET notified_level = level, notified_status = status, notified_at = ? WHERE id = ?",
                (at, alert.id),
            )
            self._write(
                "INSERT INTO notifications (message_id, alert_id, action, level, status, queued_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (message_id, alert.id, action, str(alert.level), str(alert.status), at),
            )

    def notifications(self, alert_id: str | None = None) -> list[NotificationRecord]:
        """The notification history (of one alert) with each message's delivery, oldest first."""
        sql = (
            "SELECT n.message_id, n.alert_id, n.action, n.level, n.status, n.queued_at, o.status AS delivery, "
            "o.sent_at FROM notifications n LEFT JOIN outbox o ON o.message_id = n.message_id"
        )
        rows = (
            self._rows(f"{sql} WHERE n.alert_id = ? ORDER BY n.id", (alert_id,))
            if alert_id
            else self._rows(f"{sql} ORDER BY n.id")
        )
        return [
            NotificationRecord(
                r["message_id"],
                r["alert_id"],
                r["action"],
                AlertLevel(r["level"]),
                AlertStatus(r["status"]),
                r["queued_at"],
                OutboxStatus(r["delivery"]) if r["delivery"] else None,
                r["sent_at"],
            )
            for r in rows
        ]

    # -- feedback -------------------------------------------------------------------------------------
    def add_feedback(
        self, alert_id: str, action: FeedbackAction, reason: str | None, at: str, analyst: str | None
    ) -> None:
        """Append an analyst action to the feedback history."""
        self._write(
            "INSERT INTO feedback (alert_id, action, reason, at, analyst) VALUES (?, ?, ?, ?, ?)",
            (alert_id, str(action), reason, at, analyst),
        )

    def feedback(self, alert_id: str | None = None) -> list[FeedbackRecord]:
        """The feedback history (all alerts, or one), oldest first."""
        if alert_id is None:
            rows = self._rows("SELECT * FROM feedback ORDER BY at, id")
        else:
            rows = self._rows("SELECT * FROM feedback WHERE alert_id = ? ORDER BY at, id", (alert_id,))
        return [FeedbackRecord(r["id"], r["alert_id"], r["action"], r["reason"], r["at"], r["analyst"]) for r in rows]

    # -- outbox ---------------------------------------------------------------------------------------
    def queue_message(self, message_id: str, recipients: str, subject: str, path: str) -> None:
        """Record a message as pending (once: a Message-ID already queued is left as it is)."""
        self._write(
            "INSERT OR IGNORE INTO outbox (message_id, created_at, recipients, subject, path, status) "
            "VALUES (?, ?, ?, ?, ?, 'pending')",
            (message_id, utcnow(), recipients, subject, path),
        )

    def outbox(self, status: OutboxStatus | None = None) -> list[OutboxMessage]:
        """Queued messages (with a status), oldest first."""
        if status is None:
            rows = self._rows("SELECT * FROM outbox ORDER BY id")
        else:
            rows = self._rows("SELECT * FROM outbox WHERE status = ? ORDER BY id", (str(status),))
        return [OutboxMessage(**dict(r)) for r in rows]

    def set_delivered(self, message: OutboxMessage, status: OutboxStatus) -> None:
        """A message was accepted by the server (``sent``, one more attempt) or written (``written``)."""
        attempts = "attempts + 1" if status is OutboxStatus.SENT else "attempts"
        self._write(
            f"UPDATE outbox SET status = ?, sent_at = ?, attempts = {attempts} WHERE id = ?",
            (str(status), utcnow(), message.id),
        )

    def set_delivery_failed(self, message: OutboxMessage, error: str) -> None:
        """A delivery attempt failed: the message stays pending, with the error."""
        self._write("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", (error, message.id))

    # -- runs -----------------------------------------------------------------------------------------
    def record_run(self, run: RunRecord) -> None:
        """Append a run that changed something to the run history."""
        self._write(
            "INSERT INTO runs (started_at, finished_at, new_scenes, failed_scenes, alerts_changed) "
            "VALUES (?, ?, ?, ?, ?)",
            (run.started_at, run.finished_at, run.new_scenes, run.failed_scenes, run.alerts_changed),
        )
