"""The public tables (scores, alerts, scenes) as rows with the contract's columns, and their CSV/JSON text."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from typing import Any

from monitor.archive.catalogue import Catalogue
from monitor.archive.observed import simulated_scenes
from monitor.render.names import newest
from monitor.report.selection import AlertFilter

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
    "simulated",
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
    "simulated",
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
    "simulated",
)


def score_rows(catalogue: Catalogue, site: str | None = None, zone: str | None = None) -> list[dict[str, Any]]:
    """One row per scene per zone, oldest first; ``simulated`` true for scenes from the simulator."""
    fake = simulated_scenes(catalogue, site)
    return [
        {**{c: row[c] for c in SCORE_COLUMNS if c != "simulated"}, "simulated": (row["site"], row["scene_id"]) in fake}
        for row in (r.as_dict() for r in catalogue.scores(site=site, zone=zone))
    ]


def alert_rows(
    catalogue: Catalogue, site: str | None = None, status: AlertFilter | None = None
) -> list[dict[str, Any]]:
    """The alerts with the contract's fields; ``status``: only those (see :class:`AlertFilter`);
    ``simulated``: raised on a scene from the simulator."""
    alerts = [a for a in catalogue.alerts(site=site) if status is None or status.matches(a)]
    fake = simulated_scenes(catalogue, site)
    return [
        {
            **{f: row[f] for f in ALERT_FIELDS if f != "simulated"},
            "simulated": any((a.site, i) in fake for i in a.scene_ids),
        }
        for a, row in ((a, a.as_dict()) for a in alerts)
    ]


def scene_rows(catalogue: Catalogue, site: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
    """The scene catalogue."""
    fake = simulated_scenes(catalogue, site)
    return [
        {
            **{c: row["scene_id"] if c == "id" else row[c] for c in SCENE_COLUMNS if c != "simulated"},
            "simulated": (row["site"], row["scene_id"]) in fake,
        }
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
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return re.sub(r"\r\n|\r|\n", " ", str(value))


def _state(alert: dict[str, Any]) -> str:
    if alert.get("dismissed_at"):
        return "dismissed"
    if alert["status"] == "firing" and alert.get("acked_at"):
        return "acked"
    return str(alert["status"])


def format_alert_table(rows: Sequence[dict[str, Any]]) -> str:
    """Alerts for a terminal: one line each (level, state, kind, site/zone, first..last day, best score,
    id), then an indented line with the newest evidence picture and how many files and scenes back it.
    Alerts on simulated sites are marked; CSV and JSON keep the contract's fields instead."""
    if not rows:
        return "no alerts\n"
    where = [f"{r['site']}/{r['zone']}" for r in rows]
    width = max(len("site/zone"), *(len(w) for w in where))
    head = f"{'level':<6}  {'state':<9}  {'kind':<7}  {'site/zone':<{width}}  {'seen (UTC)':<23}  {'score':>5}  id"
    lines = [head]
    for row, place in zip(rows, where, strict=True):
        seen = f"{str(row['first_seen'])[:10]} .. {str(row['last_seen'])[:10]}"
        sim = "  [SIMULATED]" if row.get("simulated") else ""
        lines.append(
            f"{row['level']:<6}  {_state(row):<9}  {row['kind']:<7}  {place:<{width}}  {seen:<23}  "
            f"{row['score']:>5.2f}  {row['id']}{sim}"
        )
        picture = newest(list(row.get("evidence") or []), "png")
        lines.append(
            f"    {len(row.get('scene_ids') or [])} scene(s), {len(row.get('evidence') or [])} evidence file(s); "
            f"newest picture: {picture or 'none on disk'}"
        )
        if row.get("dismiss_reason"):
            lines.append(f"    dismissed: {row['dismiss_reason']}")
    return "\n".join(lines) + "\n"
