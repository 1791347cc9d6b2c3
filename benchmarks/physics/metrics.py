"""Figures of one run: ROC-AUC per kind, false alerts, precision, and per-episode alert delay."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

#: A zone observation counts as *usable* when at least half of the zone was clear and valid: with less,
#: a formation may sit under the cloud and neither a hit nor a miss says anything about the detector.
USABLE = 0.5
#: An alert may be confirmed by observations a few days after an episode's last formation day.
EPISODE_GRACE_DAYS = 3


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Mann-Whitney ROC-AUC (ties count one half); NaN without both classes."""
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = rankdata(np.concatenate([pos, neg]))
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


@dataclass(frozen=True)
class RunFigures:
    name: str
    auc: dict[str, float]  # "S2 crowd", "S2 vehicle", "S1 vehicle"
    n_pos: dict[str, int]
    alerts: int
    false_alerts: int
    quiet_observations: int
    max_quiet_score: float
    max_quiet_where: str
    precision: float
    episodes: list[tuple[str, str, str]]  # (episode, zone, "obs k" | "missed" | "no usable obs")


def evaluate(name: str, scores: pd.DataFrame, alerts: list[dict], truth: pd.DataFrame, episodes: list) -> RunFigures:
    """``scores``: the monitor's score table; ``truth``: zone, scene_id, kind (None = no formation), episode."""
    df = scores.merge(truth[["zone", "scene_id", "kind", "episode"]], on=["zone", "scene_id"], how="left")
    df["acquired"] = pd.to_datetime(df["acquired"], utc=True)
    quiet = df["kind"].isna()
    usable = df["usable_fraction"].fillna(0) >= USABLE
    auc: dict[str, float] = {}
    n_pos: dict[str, int] = {}
    for sensor in ("S2", "S1"):
        for kind in ("crowd", "vehicle"):
            col = f"{kind}_score"
            sel = usable & (df["sensor"] == sensor)
            pos = df.loc[sel & (df["kind"] == kind), col].fillna(0.0).to_numpy(float)
            neg = df.loc[sel & quiet, col].fillna(0.0).to_numpy(float)
            if len(pos):
                auc[f"{sensor} {kind}"] = roc_auc(pos, neg)
                n_pos[f"{sensor} {kind}"] = len(pos)
    qs = df.loc[quiet, ["crowd_score", "vehicle_score"]].max(axis=1)
    if qs.notna().any():
        i = qs.idxmax()
        max_quiet, where = float(qs[i]), f"{df.at[i, 'zone']} {df.at[i, 'scene_id']}"
    else:
        max_quiet, where = float("nan"), "-"
    formation_scenes = {(r.zone, r.scene_id) for r in df.loc[~quiet].itertuples()}
    true = 0
    for a in alerts:
        if any((a["zone"], s) in formation_scenes for s in a["scene_ids"]):
            true += 1
    false = len(alerts) - true
    eps: list[tuple[str, str, str]] = []
    for ep in episodes:
        for zone in ep.zones:
            obs = df[(df["zone"] == zone) & (df["episode"] == ep.name) & (df["kind"].notna()) & usable].sort_values(
                "acquired"
            )
            hits = [
                pd.Timestamp(a["first_seen"])
                for a in alerts
                if a["zone"] == zone
                and any((zone, s) in formation_scenes for s in a["scene_ids"])
                and pd.Timestamp(ep.start, tz="UTC")
                <= pd.Timestamp(a["first_seen"])
                <= pd.Timestamp(ep.end, tz="UTC") + pd.Timedelta(days=EPISODE_GRACE_DAYS + 1)
            ]
            if obs.empty:
                eps.append((ep.name, zone, "no usable obs"))
            elif not hits:
                eps.append((ep.name, zone, f"missed ({len(obs)} usable obs)"))
            else:
                first = min(hits)
                k = int((obs["acquired"] < first).sum()) + 1
                eps.append((ep.name, zone, f"obs {k} of {len(obs)}"))
    return RunFigures(
        name=name,
        auc=auc,
        n_pos=n_pos,
        alerts=len(alerts),
        false_alerts=false,
        quiet_observations=int(quiet.sum()),
        max_quiet_score=max_quiet,
        max_quiet_where=where,
        precision=true / len(alerts) if alerts else float("nan"),
        episodes=eps,
    )
