"""The alert state machine, pure: one observation in, the updated alert out.

One alert per site, zone and kind while it fires. A usable observation scoring at or above the
threshold opens an alert (or confirms the firing one, raising its level if the score is higher);
``resolve_after`` usable observations below the threshold in a row resolve it. Observations of a zone
with too few usable pixels neither confirm nor count as quiet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from monitor.config import AlertsConfig

LEVELS = ("low", "medium", "high")
Kind = Literal["crowd", "vehicle"]


@dataclass(frozen=True)
class Observation:
    """One scored zone of one scene."""

    site: str
    zone: str
    scene_id: str
    acquired: datetime
    usable_fraction: float
    score: float | None


@dataclass(frozen=True)
class AlertChange:
    """What an observation did to an alert: ``opened``, ``raised``, ``confirmed``, ``quiet`` or ``resolved``."""

    action: str
    alert: dict[str, Any]


def kinds_for_zone(zone_kind: str) -> tuple[Kind, ...]:
    """The alert kinds a zone is watched for: ``crowd``, ``vehicle`` or both (``any``)."""
    if zone_kind == "crowd":
        return ("crowd",)
    if zone_kind == "vehicle":
        return ("vehicle",)
    return ("crowd", "vehicle")


def level_for(score: float, config: AlertsConfig) -> str | None:
    """The alert level of a 0..1 score, or None below the alert threshold."""
    if score >= config.high:
        return "high"
    if score >= config.medium:
        return "medium"
    if score >= config.threshold:
        return "low"
    return None


def alert_id(site: str, zone: str, kind: str, first_seen: datetime) -> str:
    """Stable id: ``mirim/replica-square/crowd/20250712T021530Z``."""
    return f"{site}/{zone}/{kind}/{first_seen.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def is_late(obs: Observation, latest: dict[str, Any] | None) -> bool:
    """True if ``obs`` is not newer than what the latest alert of its zone and kind already accounts for.

    Scenes can arrive out of order (a provider publishes late, a failed scene succeeds on a retry).
    Such an observation still gets its scores, but replaying it into the alert state would reorder
    history (a quiet count, an alert opened before one that resolved), so it changes no alert.
    """
    if latest is None:
        return False
    acquired = obs.acquired.astimezone(UTC).isoformat()
    horizon = max(v for v in (latest.get("last_observed"), latest["last_seen"], latest.get("resolved_at")) if v)
    return bool(acquired <= horizon)  # equal: the same scene again (a rescore), never counted twice


def step(alert: dict[str, Any] | None, kind: Kind, obs: Observation, config: AlertsConfig) -> AlertChange | None:
    """Apply one observation to the open alert of its site/zone/kind (``alert``: None if none is firing).

    Returns the change, or None when the observation changes nothing.
    """
    if obs.score is None or obs.usable_fraction < config.min_usable_fraction:
        return None
    acquired = obs.acquired.astimezone(UTC).isoformat()
    level = level_for(obs.score, config)
    firing = alert is not None and alert["status"] == "firing"
    if level is not None:
        if not firing:
            new = {
                "id": alert_id(obs.site, obs.zone, kind, obs.acquired),
                "site": obs.site,
                "zone": obs.zone,
                "kind": kind,
                "level": level,
                "status": "firing",
                "first_seen": acquired,
                "last_seen": acquired,
                "scene_ids": [obs.scene_id],
                "score": round(obs.score, 4),
                "evidence": [],
                "quiet": 0,
                "resolved_at": None,
                "notified_level": None,
                "notified_status": None,
                "last_observed": acquired,
            }
            return AlertChange("opened", new)
        assert alert is not None
        updated = dict(alert)
        updated["last_observed"] = acquired
        updated["scene_ids"] = [*alert["scene_ids"], obs.scene_id]
        updated["last_seen"] = max(alert["last_seen"], acquired)
        updated["score"] = round(max(alert["score"], obs.score), 4)
        updated["quiet"] = 0
        raised = LEVELS.index(level) > LEVELS.index(alert["level"])
        if raised:
            updated["level"] = level
        return AlertChange("raised" if raised else "confirmed", updated)
    if not firing:
        return None
    assert alert is not None
    updated = dict(alert)
    updated["last_observed"] = acquired
    updated["quiet"] = alert["quiet"] + 1
    if updated["quiet"] >= config.resolve_after:
        updated["status"] = "resolved"
        updated["resolved_at"] = acquired
        return AlertChange("resolved", updated)
    return AlertChange("quiet", updated)
