"""The alert state machine, pure: one observation in, the updated alert out.

One alert per site, zone and kind while it fires (Alertmanager's grouping key). A usable observation
scoring at or above the threshold opens an alert (or confirms the firing one, raising its level if the
score is higher); ``resolve_after`` usable observations below the threshold in a row resolve it.
Observations of a zone with too few usable pixels neither confirm nor count as quiet.

``high`` needs confirmation: a single observation opens at most a ``medium`` alert, and the alert
reaches ``high`` once a second usable observation at or above the threshold supports it (its level is
then the level of its best score). An observation from the other sensor family (Sentinel-1 for a
Sentinel-2 alert and vice versa) within ``confirm_days`` of the alert confirms it even when it arrives
late, after the alert has moved on (radar scenes are often published later than optical ones).

An alert an analyst dismissed suppresses the same site/zone/kind until ``suppress_until`` (its last
observation plus ``dismiss_suppress_days``): observations there that score no higher than the
dismissed level open nothing and are added to the dismissed alert's scenes (not-a-formation, kept out
of the baseline). A stronger observation opens a new alert as usual.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from monitor.config import AlertsConfig

LEVELS = ("low", "medium", "high")
Kind = Literal["crowd", "vehicle"]
#: The highest level one unconfirmed observation can give.
UNCONFIRMED_CAP = "medium"


@dataclass(frozen=True)
class Observation:
    """One scored zone of one scene; ``sensor`` is the score table's sensor (``S2``, ``S1``, ...)."""

    site: str
    zone: str
    scene_id: str
    acquired: datetime
    usable_fraction: float
    score: float | None
    sensor: str = ""


@dataclass(frozen=True)
class AlertChange:
    """What an observation did to an alert.

    ``opened``, ``raised``, ``confirmed``, ``quiet``, ``resolved``, or ``suppressed`` (recorded on a
    dismissed alert instead of opening a new one).
    """

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


def alert_level(best_score: float, supporting: int, config: AlertsConfig) -> str | None:
    """The level of an alert whose best score is ``best_score`` with ``supporting`` observations at or
    above the threshold: the score's level, capped at ``medium`` until a second observation confirms it."""
    level = level_for(best_score, config)
    if level is None or supporting >= 2:
        return level
    return LEVELS[min(LEVELS.index(level), LEVELS.index(UNCONFIRMED_CAP))]


def alert_id(site: str, zone: str, kind: str, first_seen: datetime) -> str:
    """Stable id: ``mirim/replica-square/crowd/20250712T021530Z``."""
    return f"{site}/{zone}/{kind}/{first_seen.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def sensor_family(sensor: str) -> str:
    """``radar`` for Sentinel-1 (``S1``, ``S1A``..), ``optical`` for anything else."""
    return "radar" if sensor.upper().startswith("S1") else "optical"


def is_late(obs: Observation, latest: dict[str, Any] | None) -> bool:
    """True if ``obs`` is not newer than what the latest alert of its zone and kind already accounts for.

    Scenes can arrive out of order (a provider publishes late, a failed scene succeeds on a retry).
    Such an observation still gets its scores, but replaying it into the alert state would reorder
    history (a quiet count, an alert opened before one that resolved), so it changes no alert, except
    through :func:`corroborate`.
    """
    if latest is None:
        return False
    acquired = obs.acquired.astimezone(UTC).isoformat()
    horizon = max(v for v in (latest.get("last_observed"), latest["last_seen"], latest.get("resolved_at")) if v)
    return bool(acquired <= horizon)  # equal: the same scene again (a rescore), never counted twice


def _supporting(obs: Observation, config: AlertsConfig) -> bool:
    """The observation is usable and scores at or above the threshold."""
    return obs.score is not None and obs.usable_fraction >= config.min_usable_fraction and obs.score >= config.threshold


def _with_support(alert: dict[str, Any], obs: Observation, config: AlertsConfig) -> AlertChange:
    """``alert`` with ``obs`` added as a supporting observation: ``raised`` if its level went up."""
    assert obs.score is not None
    acquired = obs.acquired.astimezone(UTC).isoformat()
    updated = dict(alert)
    updated["scene_ids"] = [*alert["scene_ids"], obs.scene_id]
    updated["first_seen"] = min(alert["first_seen"], acquired)
    updated["last_seen"] = max(alert["last_seen"], acquired)
    updated["score"] = round(max(alert["score"], obs.score), 4)
    level = alert_level(updated["score"], len(updated["scene_ids"]), config) or alert["level"]
    raised = LEVELS.index(level) > LEVELS.index(alert["level"])
    if raised:
        updated["level"] = level
    return AlertChange("raised" if raised else "confirmed", updated)


def corroborate(alert: dict[str, Any] | None, obs: Observation, config: AlertsConfig) -> AlertChange | None:
    """A late observation from the other sensor family within ``confirm_days`` of a firing alert's
    observations confirms it (and may raise it to ``high``); anything else late changes nothing."""
    if alert is None or alert["status"] != "firing" or alert.get("dismissed_at") or not _supporting(obs, config):
        return None
    if obs.scene_id in alert["scene_ids"] or not obs.sensor:
        return None
    families = {sensor_family(s) for s in alert.get("sensors") or []} or {"optical"}
    if sensor_family(obs.sensor) in families:
        return None
    window = timedelta(days=config.confirm_days)
    first = datetime.fromisoformat(alert["first_seen"])
    last = datetime.fromisoformat(alert["last_seen"])
    if not first - window <= obs.acquired <= last + window:
        return None
    change = _with_support(alert, obs, config)
    change.alert["sensors"] = sorted({*(alert.get("sensors") or []), obs.sensor})
    return change


def suppressed(alert: dict[str, Any] | None, obs: Observation, config: AlertsConfig) -> AlertChange | None:
    """If ``alert`` was dismissed and ``obs`` falls in its suppression window without scoring above the
    level of the dismissed alert's best score, the ``suppressed`` change recording ``obs`` on it; else
    None."""
    if alert is None or not alert.get("dismissed_at") or not alert.get("suppress_until"):
        return None
    if not _supporting(obs, config) or obs.scene_id in alert["scene_ids"]:
        return None
    assert obs.score is not None
    acquired = obs.acquired.astimezone(UTC).isoformat()
    level = level_for(obs.score, config)
    assert level is not None
    dismissed_level = level_for(alert["score"], config) or "low"  # its best score's, uncapped
    if acquired > alert["suppress_until"] or LEVELS.index(level) > LEVELS.index(dismissed_level):
        return None
    updated = dict(alert)
    updated["scene_ids"] = [*alert["scene_ids"], obs.scene_id]
    updated["last_seen"] = max(alert["last_seen"], acquired)
    updated["last_observed"] = max(alert.get("last_observed") or acquired, acquired)
    return AlertChange("suppressed", updated)


def step(alert: dict[str, Any] | None, kind: Kind, obs: Observation, config: AlertsConfig) -> AlertChange | None:
    """Apply one observation to the open alert of its site/zone/kind (``alert``: None if none is firing).

    Returns the change, or None when the observation changes nothing.
    """
    if obs.score is None or obs.usable_fraction < config.min_usable_fraction:
        return None
    acquired = obs.acquired.astimezone(UTC).isoformat()
    firing = alert is not None and alert["status"] == "firing"
    if obs.score >= config.threshold:
        if not firing:
            level = alert_level(obs.score, 1, config)
            assert level is not None
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
                "sensors": [obs.sensor] if obs.sensor else [],
            }
            return AlertChange("opened", new)
        assert alert is not None
        change = _with_support(alert, obs, config)
        change.alert["last_observed"] = acquired
        change.alert["quiet"] = 0
        if obs.sensor:
            change.alert["sensors"] = sorted({*(alert.get("sensors") or []), obs.sensor})
        return change
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


def advance(latest: dict[str, Any] | None, kind: Kind, obs: Observation, config: AlertsConfig) -> AlertChange | None:
    """The whole rule for one observation given the latest alert of its site/zone/kind (firing,
    resolved or dismissed; None if there never was one): late observations only corroborate, a dismissed
    pattern is suppressed for a while, anything else steps the firing alert or opens a new one."""
    if is_late(obs, latest):
        return corroborate(latest, obs, config)
    quiet = suppressed(latest, obs, config)
    if quiet is not None:
        return quiet
    current = latest if latest is not None and latest["status"] == "firing" else None
    return step(current, kind, obs, config)
