"""The public tables (scores, alerts, scenes) as rows with the contract's columns, and their CSV/JSON text."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from typing import Any

from monitor.archive.catalogue import Catalogue

#: Contract columns first (CONTRACT.md), additions after them.
SCORE_COLUMNS = (
    "site",
    "zone",
    "scene_id",
    "acquired",
    "sensor",
    "usable_fraction",
    "change_fraction",
    "crowd_score",
    "vehicle_score",
    "state",
    "baseline_version",
)
ALERT_FIELDS = (
    "id",
    "site",
    "zone",
    "kind",
    "level",
    "status",
    "first_seen",
    "last_seen",
    "scene_ids",
    "score",
    "evidence",
    "resolved_at",
    "acked_at",
    "dismissed_at",
    "dismiss_reason",
)
SCENE_COLUMNS = (
    "id",
    "site",
    "acquired",
    "sensor",
    "source",
    "status",
    "reason",
    "usable_fraction",
    "attempts",
    "checksum",
)


def score_rows(catalogue: Catalogue, site: str | None = None, zone: str | None = None) -> list[dict[str, Any]]:
    """One row per scene per zone, oldest first."""
    return [{c: r.as_dict()[c] for c in SCORE_COLUMNS} for r in catalogue.scores(site=site, zone=zone)]


def alert_rows(catalogue: Catalogue, site: str | None = None) -> list[dict[str, Any]]:
    """The alerts with the contract's fields."""
    return [{f: a.as_dict()[f] for f in ALERT_FIELDS} for a in catalogue.alerts(site=site)]


def scene_rows(catalogue: Catalogue, site: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
    """The scene catalogue."""
    return [
        {c: row["scene_id"] if c == "id" else row[c] for c in SCENE_COLUMNS}
        for row in (r.as_dict() for r in catalogue.scenes(site=site, status=status))
    ]


def format_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str) -> str:
    """Rows as CSV (header always, lists joined by ``;``, None empty) or a JSON array."""
    if fmt == "json":
        return json.dumps([{c: r.get(c) for c in columns} for r in rows], indent=2) + "\n"
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([_cell(r.get(c)) for c in columns])
    return buf.getvalue()


def _cell(value: Any) -> str:
    """A CSV cell: None empty, lists joined by ``;``, floats to 6 significant digits, line breaks folded
    to spaces so that every record stays on one line (JSON output keeps the text as it is)."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return re.sub(r"\r\n|\r|\n", " ", str(value))
