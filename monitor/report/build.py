"""Build a report of a period from the archive: ``index.html`` (offline, no external assets; pictures are
copied next to it and linked relatively) and ``summary.txt``.

The report shows, per site: the score timeline of every zone, the alerts of the period with their
evidence, feedback and notification history, and the scenes (ids, times, sensors, usable fractions,
failures) that were used.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jinja2

from monitor.archive.catalogue import Catalogue
from monitor.archive.files import atomic_path
from monitor.archive.observed import RECORDS_FAILURES, SiteHealth, SourceHealth, site_health, source_health
from monitor.archive.records import Alert, AlertStatus, SceneRecord, SceneStatus, ScoreRecord
from monitor.config import Config
from monitor.pipeline.rows import safe_name
from monitor.render.names import newest, onset
from monitor.render.templating import environment


@dataclass(frozen=True)
class ReportResult:
    """Where the report went and what it holds."""

    folder: Path
    html: Path
    text: Path
    alerts: int
    scenes: int


def _environment() -> jinja2.Environment:
    return environment("monitor.report")


def _bounds(since: date | None, until: date | None) -> tuple[str, str]:
    """The period as ISO-8601 UTC strings comparable with the archive's timestamps (until: inclusive)."""
    lo = f"{since.isoformat()}T00:00:00+00:00" if since else ""
    hi = f"{until.isoformat()}T23:59:59+00:00" if until else "9999"
    return lo, hi


def _in_period(alert: Alert, lo: str, hi: str) -> bool:
    end = alert.resolved_at or (alert.last_seen if alert.status is AlertStatus.RESOLVED else "9999")
    return bool(alert.first_seen <= hi and end >= lo)


def _copy(src: Path, folder: Path, out: Path) -> str | None:
    """Copy an evidence file into the report and return its path relative to the report (None if lost)."""
    if not src.is_file():
        return None
    folder.mkdir(parents=True, exist_ok=True)
    dst = folder / src.name
    shutil.copyfile(src, dst)
    return dst.relative_to(out).as_posix()


def _observation(scores: list[ScoreRecord], alert: Alert, scene_id: str) -> dict[str, Any]:
    """One supporting observation of an alert: its scene id, acquisition time and the alert kind's score
    there (None when the score row is outside the report's period)."""
    row = next((r for r in scores if r.scene_id == scene_id and r.zone == alert.zone), None)
    score = (row.crowd_score if alert.kind == "crowd" else row.vehicle_score) if row else None
    return {"scene_id": scene_id, "acquired": row.acquired if row else None, "score": score}


def _latest_scene(scenes: list[SceneRecord], alert: Alert) -> str:
    """The alert's supporting scene acquired last (a late radar scene can be listed after a newer one)."""
    times = {s.scene_id: s.acquired or "" for s in scenes}
    ids = list(alert.scene_ids)
    return max(ids, key=lambda i: (times.get(i, ""), ids.index(i))) if ids else ""


def _credit(scenes: list[SceneRecord]) -> str:
    from monitor.render.evidence import credit_line

    simulated = any(s.simulated for s in scenes)
    years = sorted({int(s.acquired[:4]) for s in scenes if s.acquired})
    if simulated:
        return credit_line(True, 0)
    if not years:
        return credit_line(False, 0)
    span = str(years[0]) if len(years) == 1 else f"{years[0]}-{years[-1]}"
    return f"Contains modified Copernicus Sentinel data {span}"


def _when(t: datetime | None) -> str:
    return "never" if t is None else t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _source_lines(config: Config, health: list[SourceHealth]) -> list[dict[str, Any]]:
    """Each configured source with its last successful search and its failures since (as recorded)."""
    by_name = {h.source: h for h in health}
    out = []
    for source in config.sources:
        h = by_name.get(source.name, SourceHealth(source.name, None, 0, None))
        out.append(
            {
                "name": source.name,
                "last_success": _when(h.last_success),
                "succeeded": h.last_success is not None,
                "failures": h.consecutive_failures if RECORDS_FAILURES else None,
                "last_error": h.last_error,
            }
        )
    return out


def build_report(
    config: Config,
    out: Path,
    *,
    since: date | None = None,
    until: date | None = None,
    site: str | None = None,
    now: datetime | None = None,
) -> ReportResult:
    """Write the report of ``since``..``until`` (inclusive, UTC days; None: open) for one site or all
    into ``out`` (created; existing report files are overwritten). Reads the archive only."""
    from monitor.report.timeline import render_timeline

    out = out.expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    lo, hi = _bounds(since, until)
    sites = [config.site(site)] if site is not None else list(config.sites)
    generated = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    site_items = []
    total_alerts = total_scenes = 0
    with Catalogue(config.data_dir, readonly=True) as catalogue:
        sources = _source_lines(config, source_health(catalogue))
        usable = {h.site: h for h in site_health(catalogue, config.alerts.min_usable_fraction)}
        # an archive not yet migrated by a run (read-only users cannot migrate it) has no feedback history
        history = catalogue.has_table("feedback")
        for s in sites:
            scenes = [r for r in catalogue.scenes(site=s.id) if r.acquired is None or lo <= r.acquired <= hi]
            scores = [r for r in catalogue.scores(site=s.id) if r.acquired and lo <= r.acquired <= hi]
            alerts = [a for a in catalogue.alerts(site=s.id) if _in_period(a, lo, hi)]
            baseline_ids = {i for b in catalogue.baselines(s.id) for i in b.scene_ids}
            alert_scenes = {i for a in alerts for i in a.scene_ids}
            counts = {str(k): sum(1 for x in scenes if x.status is k) for k in SceneStatus}
            # nothing read in the period: no timeline on an empty axis, no data credit over no data
            read = [x for x in scenes if x.status is SceneStatus.OK]
            saw = bool(read)
            credit = _credit(read) if saw else ""
            timeline = (
                render_timeline(
                    out / "img" / f"timeline-{safe_name(s.id)}.png",
                    f"{s.name or s.id}: formation scores per zone",
                    scores,
                    alerts,
                    config.alerts,
                    credit,
                )
                if saw and scores
                else None
            )
            last = usable.get(s.id, SiteHealth(s.id, None, None))
            items = []
            for alert in alerts:
                folder = out / "evidence" / safe_name(alert.id.replace("/", "_"))
                png, gif, geojson = (newest(alert.evidence, kind) for kind in ("png", "gif", "geojson"))
                first = onset(alert.evidence, "png")
                items.append(
                    {
                        "alert": alert,
                        "onset": _observation(scores, alert, alert.scene_ids[0] if alert.scene_ids else ""),
                        "latest": _observation(scores, alert, _latest_scene(scenes, alert)),
                        "onset_png": first and first != png and _copy(first, folder / "onset", out),
                        "png": png and _copy(png, folder, out),
                        "gif": gif and _copy(gif, folder, out),
                        "geojson": geojson and _copy(geojson, folder, out),
                        "feedback": catalogue.feedback(alert.id) if history else [],
                        "notifications": catalogue.notifications(alert.id) if history else [],
                    }
                )
            scene_items = [
                {**r.as_dict(), "in_baseline": r.scene_id in baseline_ids, "in_alert": r.scene_id in alert_scenes}
                for r in scenes
            ]
            site_items.append(
                {
                    "site": s,
                    "name": s.name or s.id,
                    "timeline": timeline.relative_to(out).as_posix() if timeline else None,
                    "alerts": items,
                    "scenes": scene_items,
                    "counts": counts,
                    "saw": saw,
                    "last_usable_scene": last.last_usable_scene,
                    "last_usable_acquired": _when(last.last_usable_acquired),
                    "credit": credit,
                    "simulated": credit.startswith("Simulated"),
                }
            )
            total_alerts += len(items)
            total_scenes += len(scenes)
    context = {
        "sites": site_items,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "generated": generated,
        "data_dir": str(config.data_dir),
        "simulated": any(i["simulated"] for i in site_items),
        "sources": sources,
        "saw_nothing": not any(i["saw"] for i in site_items),
    }
    html = out / "index.html"
    text = out / "summary.txt"
    for path, template in ((html, "report.html"), (text, "summary.txt")):
        with atomic_path(path) as tmp:
            tmp.write_text(_environment().get_template(template).render(**context), encoding="utf-8")
    return ReportResult(folder=out, html=html, text=text, alerts=total_alerts, scenes=total_scenes)
