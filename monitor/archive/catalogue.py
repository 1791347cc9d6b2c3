"""The SQLite catalogue of the archive: scenes, baselines, scores, alerts, the outbox and runs.

WAL journal, foreign keys on, schema versioned by ``PRAGMA user_version`` with forward-only migrations.
Every change that belongs to one scene commits in one transaction (``with catalogue.transaction():``).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.archive.files import umask
from monitor.archive.health import MIGRATION as HEALTH_MIGRATION
from monitor.archive.health import HealthMixin
from monitor.errors import ArchiveError

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


class Catalogue(HealthMixin):
    """The archive's SQLite catalogue at ``data_dir/catalogue.sqlite``; health statements come from
    :class:`~monitor.archive.health.HealthMixin`."""

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
                db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
                if new:
                    os.chmod(self.path, 0o666 & ~umask())
        except (sqlite3.Error, OSError) as exc:
            raise ArchiveError(f"cannot open the catalogue {self.path}: {exc}") from exc
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
            raise ArchiveError(f"cannot open the catalogue {self.path}: {exc}") from exc

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
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work: commits on success, rolls back on any error."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a SELECT as plain dicts."""
        try:
            return [dict(row) for row in self.db.execute(sql, params).fetchall()]
        except sqlite3.Error as exc:
            raise ArchiveError(f"catalogue query failed: {exc}") from exc

    # -- scenes ---------------------------------------------------------------------------------------
    def scene(self, site: str, scene_id: str) -> dict[str, Any] | None:
        """One scene row, or None."""
        rows = self.query("SELECT * FROM scenes WHERE site = ? AND scene_id = ?", (site, scene_id))
        return rows[0] if rows else None

    def select(self, table: str, order: str, **equal: str | None) -> list[dict[str, Any]]:
        """Rows of ``table`` whose columns equal the given values (None: no filter), in ``order``."""
        filters = {k: v for k, v in equal.items() if v is not None}
        where = " AND ".join(f"{k} = ?" for k in filters) or "1=1"
        return self.query(f"SELECT * FROM {table} WHERE {where} ORDER BY {order}", tuple(filters.values()))

    def scenes(self, site: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """Scene rows, oldest acquisition first."""
        return self.select("scenes", "site, acquired, scene_id", site=site, status=status)

    def upsert_scene(self, db: sqlite3.Connection, row: dict[str, Any]) -> None:
        """Insert or replace a scene row (``attempts`` counts up on each replace)."""
        row = {
            **row,
            "updated_at": utcnow(),
            "provenance": json.dumps(row.get("provenance", {}), sort_keys=True, default=str),
        }
        previous = db.execute(
            "SELECT attempts FROM scenes WHERE site = ? AND scene_id = ?", (row["site"], row["scene_id"])
        ).fetchone()
        row["attempts"] = (previous[0] + 1) if previous else 1
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        updates = ", ".join(f"{c} = excluded.{c}" for c in row if c not in {"site", "scene_id"})
        # an upsert, not INSERT OR REPLACE: a replace deletes the row and cascades to its scores
        db.execute(
            f"INSERT INTO scenes ({cols}) VALUES ({marks}) ON CONFLICT (site, scene_id) DO UPDATE SET {updates}",
            tuple(row.values()),
        )

    def replace_scores(self, db: sqlite3.Connection, site: str, scene_id: str, rows: list[dict[str, Any]]) -> None:
        """Replace every score row of one scene."""
        db.execute("DELETE FROM scores WHERE site = ? AND scene_id = ?", (site, scene_id))
        for row in rows:
            row = {**row, "detections": json.dumps(row.get("detections", []), sort_keys=True)}
            cols = ", ".join(row)
            db.execute(f"INSERT INTO scores ({cols}) VALUES ({', '.join('?' for _ in row)})", tuple(row.values()))

    def scores(self, site: str | None = None, zone: str | None = None) -> list[dict[str, Any]]:
        """Score rows, ordered by site, acquisition, zone."""
        rows = self.select("scores", "site, acquired, scene_id, zone", site=site, zone=zone)
        for row in rows:
            row["detections"] = json.loads(row["detections"])
        return rows

    # -- incremental search ------------------------------------------------------------------------------
    def last_acquired(self, source: str, site: str) -> datetime | None:
        """The newest acquisition ``source`` has returned for ``site`` so far, or None before its first search."""
        rows = self.query("SELECT last_acquired FROM source_cursors WHERE source = ? AND site = ?", (source, site))
        return datetime.fromisoformat(rows[0]["last_acquired"]) if rows else None

    def set_last_acquired(self, db: sqlite3.Connection, source: str, site: str, acquired: datetime) -> None:
        """Move the search cursor of ``source`` and ``site`` forward to ``acquired`` (never back)."""
        db.execute(
            "INSERT INTO source_cursors (source, site, last_acquired, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (source, site) DO UPDATE SET last_acquired = excluded.last_acquired, "
            "updated_at = excluded.updated_at WHERE excluded.last_acquired > source_cursors.last_acquired",
            (source, site, iso(acquired), utcnow()),
        )

    def oldest_retryable(self, site: str, source: str, max_attempts: int) -> datetime | None:
        """The oldest acquisition of a failed scene of ``source`` with attempts left, or None."""
        rows = self.query(
            "SELECT MIN(acquired) AS t FROM scenes WHERE site = ? AND source = ? AND status = 'failed' "
            "AND attempts < ? AND acquired IS NOT NULL",
            (site, source, max_attempts),
        )
        value = rows[0]["t"] if rows else None
        return datetime.fromisoformat(value) if value else None

    # -- baselines ------------------------------------------------------------------------------------
    def baseline(self, site: str, sensor: str) -> dict[str, Any] | None:
        """The newest baseline of a site and sensor, or None."""
        rows = self.query(
            "SELECT * FROM baselines WHERE site = ? AND sensor = ? ORDER BY version DESC LIMIT 1",
            (site, sensor),
        )
        if not rows:
            return None
        rows[0]["scene_ids"] = json.loads(rows[0]["scene_ids"])
        return rows[0]

    # -- site grids ----------------------------------------------------------------------------------
    def check_site_grid(self, site: str, crs: str, transform: tuple[float, ...], width: int, height: int) -> str | None:
        """Record a site's grid on first use; afterwards, a description of how it differs (None if same)."""
        rows = self.query("SELECT * FROM site_grids WHERE site = ?", (site,))
        if not rows:
            with self.transaction() as db:
                db.execute(
                    "INSERT INTO site_grids (site, crs, transform, width, height, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (site, crs, json.dumps([round(v, 6) for v in transform]), width, height, utcnow()),
                )
            return None
        row = rows[0]
        stored = json.loads(row["transform"])
        now = [round(v, 6) for v in transform]
        if row["crs"] != crs or stored != now or (row["width"], row["height"]) != (width, height):
            return (
                f"the archive holds this site on a {row['width']} x {row['height']} px grid in {row['crs']} with "
                f"origin ({stored[2]}, {stored[5]}) and {stored[0]} m pixels; the config now gives {width} x "
                f"{height} px in {crs} with origin ({now[2]}, {now[5]}) and {now[0]} m pixels"
            )
        return None

    # -- alerts ---------------------------------------------------------------------------------------
    def alerts(self, site: str | None = None) -> list[dict[str, Any]]:
        """Alert rows with their JSON fields decoded, oldest first."""
        return [_decode_alert(row) for row in self.select("alerts", "first_seen, id", site=site)]

    def latest_alert(self, site: str, zone: str, kind: str) -> dict[str, Any] | None:
        """The most recent alert of a site, zone and kind (firing or resolved), decoded; None if none."""
        rows = self.query(
            "SELECT * FROM alerts WHERE site = ? AND zone = ? AND kind = ? ORDER BY first_seen DESC, id DESC LIMIT 1",
            (site, zone, kind),
        )
        return _decode_alert(rows[0]) if rows else None

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        """One alert, decoded; None if there is no such id."""
        rows = self.query("SELECT * FROM alerts WHERE id = ?", (alert_id,))
        return _decode_alert(rows[0]) if rows else None

    def save_alert(self, db: sqlite3.Connection, alert: dict[str, Any]) -> None:
        """Insert or replace an alert row."""
        row = {
            **alert,
            "scene_ids": json.dumps(alert["scene_ids"]),
            "evidence": json.dumps(alert["evidence"]),
            "sensors": json.dumps(alert.get("sensors") or []),
        }
        cols = ", ".join(row)
        db.execute(
            f"INSERT OR REPLACE INTO alerts ({cols}) VALUES ({', '.join('?' for _ in row)})",
            tuple(row.values()),
        )


def _decode_alert(row: dict[str, Any]) -> dict[str, Any]:
    """An alert row with its JSON columns (``scene_ids``, ``evidence``, ``sensors``) decoded."""
    row["scene_ids"] = json.loads(row["scene_ids"])
    row["evidence"] = json.loads(row["evidence"])
    row["sensors"] = json.loads(row.get("sensors") or "[]")
    return row
