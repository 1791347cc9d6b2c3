"""Figures of a run from the monitor's score table and alerts, against the truth table.

Definitions (docs/holdout.md):
- a zone observation is *usable* when its usable_fraction is at least 0.3 (the monitor's default
  ``alerts.min_usable_fraction``) and the score in question is not empty;
- ROC-AUC of crowd_score (vehicle_score): positives are usable observations of a crowd (vehicle)
  formation the sensor can see, negatives usable observations of the same zones with no formation;
  formations of the other kind are left out of both;
- an alert is *true* when one of its scene_ids is an acquisition on which its zone held a formation of
  its kind; every other alert is false (one of the other kind is counted apart too);
- false alerts per 100 zone-observations without a formation (usable ones, any sensor);
- per episode: the rank, among the episode's usable observations by a sensor that can see it, of the
  first one in a true alert's scene_ids (1 = alerted on its first usable view; "missed" if none).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

import numpy as np

MIN_USABLE = 0.3


@dataclass(frozen=True)
class Obs:
    """One zone on one acquisition, scored and with its truth."""

    zone: str
    scene_id: str
    sensor: str
    acquired: str
    usable: float
    crowd: float | None
    vehicle: float | None
    formation: str
    episode: str
    observable: bool


@dataclass(frozen=True)
class Alert:
    """The fields of an alert the figures need."""

    id: str
    zone: str
    kind: str
    scene_ids: tuple[str, ...]
    score: float


@dataclass(frozen=True)
class Figures:
    """A run's figures."""

    n_obs: int
    n_quiet_usable: int
    auc_crowd: float | None
    n_crowd_pos: int
    auc_vehicle_s2: float | None
    auc_vehicle_s1: float | None
    auc_vehicle: float | None
    n_vehicle_pos: int
    n_alerts: int
    n_false: int
    n_other_kind: int
    false_per_100: float | None
    precision: float | None
    max_quiet_crowd: tuple[float, str] | None
    max_quiet_vehicle: tuple[float, str] | None
    episodes: tuple[tuple[str, str, int, str], ...]  # id, zone/kind, usable views, first alerted rank
    false_alerts: tuple[str, ...]


def _f(x: str) -> float | None:
    return float(x) if x not in ("", None) else None


def join(scores_csv: str, truth_rows: list[dict[str, str]]) -> list[Obs]:
    """Score rows (CSV text of ``monitor scores --format csv``) joined to the truth table on (zone, scene)."""
    truth = {(r["zone"], r["scene_id"]): r for r in truth_rows}
    out = []
    for row in csv.DictReader(io.StringIO(scores_csv)):
        t = truth.get((row["zone"], row["scene_id"]))
        if t is None:
            raise ValueError(f"score row for {row['zone']}/{row['scene_id']} has no truth row")
        out.append(
            Obs(
                row["zone"],
                row["scene_id"],
                row["sensor"],
                row["acquired"],
                float(row["usable_fraction"] or 0.0),
                _f(row["crowd_score"]),
                _f(row["vehicle_score"]),
                t["formation"],
                t["episode"],
                t["observable"] == "True",
            )
        )
    return out


def parse_alerts(alerts_json: str) -> list[Alert]:
    """Alerts from ``monitor alerts --format json``."""
    return [
        Alert(a["id"], a["zone"], a["kind"], tuple(a["scene_ids"]), float(a["score"])) for a in json.loads(alerts_json)
    ]


def roc_auc(pos: list[float], neg: list[float]) -> float | None:
    """Area under the ROC curve (ties count half): the Mann-Whitney U over n_pos * n_neg."""
    if not pos or not neg:
        return None
    from scipy.stats import mannwhitneyu

    u = mannwhitneyu(pos, neg, alternative="two-sided").statistic
    return float(u) / (len(pos) * len(neg))


def _score(o: Obs, kind: str) -> float | None:
    return o.crowd if kind == "crowd" else o.vehicle


def _usable(o: Obs, kind: str) -> bool:
    return o.usable >= MIN_USABLE and _score(o, kind) is not None


def figures(obs: list[Obs], alerts: list[Alert]) -> Figures:
    """Every figure of one run."""
    by_key = {(o.zone, o.scene_id): o for o in obs}
    aucs: dict[str, float | None] = {}
    counts: dict[str, int] = {}
    for kind, sensors, key in (
        ("crowd", ("S2",), "crowd"),
        ("vehicle", ("S2",), "vehicle_s2"),
        ("vehicle", ("S1",), "vehicle_s1"),
        ("vehicle", ("S1", "S2"), "vehicle"),
    ):
        zones = {o.zone for o in obs if _score(o, kind) is not None}
        pos = [
            s
            for o in obs
            if o.sensor in sensors
            and o.formation == kind
            and o.observable
            and _usable(o, kind)
            and (s := _score(o, kind)) is not None
        ]
        neg = [
            s
            for o in obs
            if o.sensor in sensors
            and o.zone in zones
            and o.formation == ""
            and _usable(o, kind)
            and (s := _score(o, kind)) is not None
        ]
        aucs[key] = roc_auc(pos, neg)
        counts[key] = len(pos)
    quiet = [o for o in obs if o.formation == "" and o.usable >= MIN_USABLE]
    n_false = n_other = 0
    false_ids = []
    true_scenes: dict[tuple[str, str], set[str]] = {}
    for a in alerts:
        hits = [by_key.get((a.zone, s)) for s in a.scene_ids]
        if any(h is not None and h.formation == a.kind for h in hits):
            true_scenes.setdefault((a.zone, a.kind), set()).update(a.scene_ids)
            continue
        n_false += 1
        false_ids.append(f"{a.id} ({a.score:.2f})")
        if any(h is not None and h.formation for h in hits):
            n_other += 1
    eps = []
    for ep in sorted({o.episode for o in obs if o.episode}):
        views = sorted(
            (o for o in obs if o.episode == ep and o.observable and _usable(o, o.formation)), key=lambda o: o.acquired
        )
        allv = [o for o in obs if o.episode == ep]
        z, kind = allv[0].zone, allv[0].formation
        alerted = true_scenes.get((z, kind), set())
        rank = next(
            (str(i + 1) for i, o in enumerate(views) if o.scene_id in alerted), "missed" if views else "no view"
        )
        eps.append((ep, f"{z}/{kind}", len(views), rank))

    def top(kind: str) -> tuple[float, str] | None:
        vals = [(s, f"{o.zone}/{o.scene_id}") for o in quiet if (s := _score(o, kind)) is not None]
        return max(vals) if vals else None

    return Figures(
        n_obs=len(obs),
        n_quiet_usable=len(quiet),
        auc_crowd=aucs["crowd"],
        n_crowd_pos=counts["crowd"],
        auc_vehicle_s2=aucs["vehicle_s2"],
        auc_vehicle_s1=aucs["vehicle_s1"],
        auc_vehicle=aucs["vehicle"],
        n_vehicle_pos=counts["vehicle"],
        n_alerts=len(alerts),
        n_false=n_false,
        n_other_kind=n_other,
        false_per_100=100.0 * n_false / len(quiet) if quiet else None,
        precision=(len(alerts) - n_false) / len(alerts) if alerts else None,
        max_quiet_crowd=top("crowd"),
        max_quiet_vehicle=top("vehicle"),
        episodes=tuple(eps),
        false_alerts=tuple(false_ids),
    )


def fmt(x: float | None, digits: int = 3) -> str:
    """A figure for the table, ``-`` when undefined."""
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}f}"
