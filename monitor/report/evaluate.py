"""Judge an archive against the parade table: per parade the first alert and its lead time, and the
alerts that match no parade (``monitor evaluate``).

Rules (see ``docs/analysis.md``):

- An alert *predicts* the first parade on or after the day it was first seen, if that parade is at most
  ``max_lead_days`` later. Each alert predicts at most one parade, so two parades close together do not
  share an alert.
- A parade is ``detected`` when at least one alert predicts it; ``missed`` when none does although the
  archive holds scenes from its rehearsal period (from the first publicly reported activity, or
  ``REHEARSAL_DAYS`` before the parade when none is known, to the parade); ``not covered`` when it holds
  none (the monitor cannot be judged on it).
- An alert that predicts no parade is a false alarm, unless it was first seen within
  ``negative_window_days`` after a known hard negative's activity began: then it is reported against
  that negative (activity without a parade, which the monitor is not expected to tell apart).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

from monitor.archive.records import Alert
from monitor.report.truth import Event

DEFAULT_MAX_LEAD_DAYS = 180
DEFAULT_NEGATIVE_WINDOW_DAYS = 90
#: Rehearsal period assumed for coverage when a parade has no reported first activity, days.
REHEARSAL_DAYS = 30
#: The first and last line of an evaluation made on simulated scenes, and its first note in JSON.
SIMULATED_NOTE = (
    "SIMULATED DATA: these alerts come from scenes rendered by monitor.simulate (monitor demo), not from "
    "Copernicus imagery; the figures say nothing about real parades"
)


@dataclass(frozen=True)
class AlertRef:
    """The part of an alert the evaluation needs."""

    id: str
    site: str
    zone: str
    kind: str
    level: str
    first_seen: date


@dataclass(frozen=True)
class ParadeResult:
    """How the archive did on one parade."""

    parade_date: date
    occasion: str
    first_reported_activity: date | None
    confidence: str
    status: str  # detected | missed | not covered
    scenes_in_window: int  # readable scenes in the rehearsal period (see the module docstring)
    first_alert: date | None = None
    lead_days: int | None = None
    days_before_reporting: int | None = None
    alerts: tuple[AlertRef, ...] = ()


@dataclass(frozen=True)
class UnmatchedAlert:
    """An alert that predicts no parade; ``negative`` names the known hard negative it falls in, if any."""

    alert: AlertRef
    negative: str | None = None


@dataclass(frozen=True)
class Evaluation:
    """The whole evaluation."""

    parades: tuple[ParadeResult, ...]
    unmatched: tuple[UnmatchedAlert, ...]
    max_lead_days: int
    site: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    simulated: bool = False  # judged on scenes rendered by monitor.simulate (the demo), not real imagery

    @property
    def false_alarms(self) -> tuple[UnmatchedAlert, ...]:
        """Unmatched alerts outside every known hard negative."""
        return tuple(u for u in self.unmatched if u.negative is None)


def _day(value: str | datetime | date) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(value).date()


def alert_refs(alerts: Iterable[Alert | AlertRef]) -> list[AlertRef]:
    """Alerts (as ``Catalogue.alerts`` gives them) -> :class:`AlertRef`, oldest first."""
    refs = [
        a if isinstance(a, AlertRef) else AlertRef(a.id, a.site, a.zone, str(a.kind), str(a.level), _day(a.first_seen))
        for a in alerts
    ]
    return sorted(refs, key=lambda r: (r.first_seen, r.id))


def evaluate(
    events: Sequence[Event],
    alerts: Iterable[Alert | AlertRef],
    scene_days: Iterable[str | datetime | date],
    *,
    site: str | None = None,
    max_lead_days: int = DEFAULT_MAX_LEAD_DAYS,
    negative_window_days: int = DEFAULT_NEGATIVE_WINDOW_DAYS,
    simulated: bool = False,
) -> Evaluation:
    """Match alerts to parades (rules in the module docstring).

    ``alerts`` are alert rows (``first_seen`` ISO-8601 or datetime); ``scene_days`` the acquisition times
    of the archive's readable scenes, used to tell a missed parade from one the archive does not cover.
    Both should already be limited to ``site`` when one is given (it is only recorded). ``simulated``:
    some of those scenes come from the simulator; every output then says SIMULATED.
    """
    if max_lead_days < 1:
        raise ValueError("max_lead_days must be at least 1")
    refs = alert_refs(alerts)
    days = sorted(_day(d) for d in scene_days)
    parades = sorted(
        (e for e in events if e.is_parade and e.parade_date is not None), key=lambda e: e.parade_date or date.min
    )
    predicted: dict[date, list[AlertRef]] = {}
    unmatched: list[UnmatchedAlert] = []
    for ref in refs:
        target = next((p for p in parades if p.parade_date is not None and p.parade_date >= ref.first_seen), None)
        if (
            target is not None
            and target.parade_date is not None
            and (target.parade_date - ref.first_seen).days <= max_lead_days
        ):
            predicted.setdefault(target.parade_date, []).append(ref)
            continue
        unmatched.append(UnmatchedAlert(ref, _negative_for(ref.first_seen, events, negative_window_days)))
    results = []
    for p in parades:
        assert p.parade_date is not None
        start = p.first_reported_activity or p.parade_date - timedelta(days=REHEARSAL_DAYS)
        covered = sum(1 for d in days if start <= d <= p.parade_date)
        hits = tuple(predicted.get(p.parade_date, ()))
        if hits:
            first = min(h.first_seen for h in hits)
            before = (p.first_reported_activity - first).days if p.first_reported_activity is not None else None
            results.append(
                ParadeResult(
                    p.parade_date,
                    p.occasion,
                    p.first_reported_activity,
                    p.confidence,
                    "detected",
                    covered,
                    first,
                    (p.parade_date - first).days,
                    before,
                    hits,
                )
            )
        else:
            status = "missed" if covered else "not covered"
            results.append(
                ParadeResult(p.parade_date, p.occasion, p.first_reported_activity, p.confidence, status, covered)
            )
    notes = (SIMULATED_NOTE,) if simulated else ()
    return Evaluation(tuple(results), tuple(unmatched), max_lead_days, site, notes, simulated)


def _negative_for(day: date, events: Sequence[Event], window_days: int) -> str | None:
    for e in events:
        if e.is_parade or e.first_reported_activity is None:
            continue
        if e.first_reported_activity <= day <= e.first_reported_activity + timedelta(days=window_days):
            return e.occasion
    return None


# -- output ---------------------------------------------------------------------------------------


def _fmt(value: object) -> str:
    return "-" if value is None else str(value)


def format_text(result: Evaluation) -> str:
    """A plain-text report: one line per parade, then the alerts that match no parade."""
    banner = [SIMULATED_NOTE, ""] if result.simulated else []
    lines = [
        *banner,
        f"Parades (an alert predicts the next parade within {result.max_lead_days} days"
        + (f"; site {result.site}" if result.site else "")
        + "):",
        f"  {'parade':<10}  {'status':<11}  {'first alert':<11}  {'lead':>6}  {'reported':<10}  "
        f"{'vs report':>9}  {'conf':<6}  {'scenes':>6}  occasion",
    ]
    tag = "  [SIMULATED]" if result.simulated else ""
    for p in result.parades:
        lead = f"{p.lead_days} d" if p.lead_days is not None else "-"
        vs = f"{p.days_before_reporting:+d} d" if p.days_before_reporting is not None else "-"
        lines.append(
            f"  {p.parade_date!s:<10}  {p.status:<11}  {_fmt(p.first_alert):<11}  {lead:>6}  "
            f"{_fmt(p.first_reported_activity):<10}  {vs:>9}  {p.confidence:<6}  {p.scenes_in_window:>6}  "
            f"{p.occasion}{tag}"
        )
    covered = [p for p in result.parades if p.status != "not covered"]
    detected = [p for p in covered if p.status == "detected"]
    lines.append(f"  {len(detected)} of {len(covered)} covered parade(s) detected")
    lines.append("  lead: days from the first alert to the parade; vs report: days it came before (+) or after (-)")
    lines.append("  the first public report; conf: how well that report is sourced; scenes: readable scenes of the")
    lines.append("  rehearsal period (from the first report, or 30 days before the parade, to the parade)")
    lines.append("")
    lines.append(f"Alerts matching no parade ({len(result.unmatched)}, {len(result.false_alarms)} false alarm(s)):")
    for u in result.unmatched:
        a = u.alert
        where = f"known negative: {u.negative}" if u.negative else "false alarm"
        lines.append(f"  {a.first_seen!s:<10}  {a.site}/{a.zone}  {a.kind:<7}  {a.level:<6}  {a.id}  ({where}){tag}")
    if not result.unmatched:
        lines.append("  none")
    if result.simulated:
        lines += ["", SIMULATED_NOTE]
    return "\n".join(lines) + "\n"


def to_json(result: Evaluation) -> str:
    """The evaluation as JSON (dates ISO-8601)."""
    return json.dumps(asdict(result), indent=2, default=str) + "\n"
