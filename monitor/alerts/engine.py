"""The alert state machine, pure: one observation in, the updated alert out.

One alert per site, zone and kind while it fires (Alertmanager's grouping key). A usable observation
scoring at or above the threshold opens an alert (or confirms the firing one, raising its level if the
score is higher); ``resolve_after`` usable observations below the threshold in a row resolve it.
Observations of a zone with too few usable pixels neither confirm nor count as quiet.

Opening needs a clear view: an observation of a zone of which less than half was compared (the rest under
a cloud, its margin or a baseline hole; ``Observation.clear_view``) opens an alert only when the zone's
previous usable observation also scored at or above the threshold; alone, it waits for that confirmation.

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

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from monitor.archive.records import Alert, AlertKind, AlertLevel, AlertStatus
from monitor.config import AlertsConfig

LEVELS = tuple(AlertLevel)
Kind = AlertKind
#: The highest level one unconfirmed observation can give.
UNCONFIRMED_CAP = AlertLevel.MEDIUM


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
    #: whether the zone was seen clearly enough for this observation to open an alert on its own
    #: (``detect.scoring.clear_view``: at least half of the zone compared); without it, an alert opens
    #: only when the zone's previous usable observation agrees
    clear_view: bool = True


@dataclass(frozen=True)
class AlertChange:
    """What an observation did to an alert.

    ``opened``, ``raised``, ``confirmed``, ``quiet``, ``resolved``, or ``suppressed`` (recorded on a
    dismissed alert instead of opening a new one).
    """

    action: str
    alert: Alert


def kinds_for_zone(zone_kind: str) -> tuple[AlertKind, ...]:
    """The alert kinds a zone is watched for: ``crowd``, ``vehicle`` or both (``any``)."""
    if zone_kind == "crowd":
        return (AlertKind.CROWD,)
    if zone_kind == "vehicle":
        return (AlertKind.VEHICLE,)
    return (AlertKind.CROWD, AlertKind.VEHICLE)


def level_for(score: float, config: AlertsConfig) -> AlertLevel | None:
    """The alert level of a 0..1 score, or None below the alert threshold."""
    if score >= config.high:
        return AlertLevel.HIGH
    if score >= config.medium:
        return AlertLevel.MEDIUM
    if score >= config.threshold:
        return AlertLevel.LOW
    return None


def alert_level(best_score: float, supporting: int, config: AlertsConfig) -> AlertLevel | None:
    """The level of an alert whose best score is ``best_score`` with ``supporting`` observations at or
    above the threshold: the score's level, capped at ``medium`` until a second observation confirms it."""
    level = level_for(best_score, config)
    if level is None or supporting >= 2:
        return level
    return min(level, UNCONFIRMED_CAP, key=lambda v: v.rank)


def alert_id(site: str, zone: str, kind: str, first_seen: datetime) -> str:
    """Stable id: ``mirim/replica-square/crowd/20250712T021530Z``."""
    return f"{site}/{zone}/{kind}/{first_seen.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def sensor_family(sensor: str) -> str:
    """``radar`` for Sentinel-1 (``S1``, ``S1A``..), ``optical`` for anything else."""
    return "radar" if sensor.upper().startswith("S1") else "optical"


def is_late(obs: Observation, latest: Alert | None) -> bool:
    """True if ``obs`` is not newer than what the latest alert of its zone and kind already accounts for.

    Scenes can arrive out of order (a provider publishes late, a failed scene succeeds on a retry).
    Such an observation still gets its scores, but replaying it into the alert state would reorder
    history (a quiet count, an alert opened before one that resolved), so it changes no alert, except
    through :func:`corroborate`.
    """
    if latest is None:
        return False
    acquired = obs.acquired.astimezone(UTC).isoformat()
    horizon = max(v for v in (latest.last_observed, latest.last_seen, latest.resolved_at) if v)
    return bool(acquired <= horizon)  # equal: the same scene again (a rescore), never counted twice


def _supporting(obs: Observation, config: AlertsConfig) -> bool:
    """The observation is usable and scores at or above the threshold."""
    return obs.score is not None and obs.usable_fraction >= config.min_usable_fraction and obs.score >= config.threshold


def _with_support(alert: Alert, obs: Observation, config: AlertsConfig) -> AlertChange:
    """``alert`` with ``obs`` added as a supporting observation: ``raised`` if its level went up."""
    assert obs.score is not None
    acquired = obs.acquired.astimezone(UTC).isoformat()
    scene_ids = (*alert.scene_ids, obs.scene_id)
    score = round(max(alert.score, obs.score), 4)
    level = alert_level(score, len(scene_ids), config) or alert.level
    raised = level.rank > alert.level.rank
    updated = replace(
        alert,
        scene_ids=scene_ids,
        first_seen=min(alert.first_seen, acquired),
        last_seen=max(alert.last_seen, acquired),
        score=score,
        level=level if raised else alert.level,
    )
    return AlertChange("raised" if raised else "confirmed", updated)


def corroborate(alert: Alert | None, obs: Observation, config: AlertsConfig) -> AlertChange | None:
    """A late observation from the other sensor family within ``confirm_days`` of a firing alert's
    observations confirms it (and may raise it to ``high``); anything else late changes nothing."""
    if alert is None or not alert.firing or alert.dismissed_at or not _supporting(obs, config):
        return None
    if obs.scene_id in alert.scene_ids or not obs.sensor:
        return None
    families = {sensor_family(s) for s in alert.sensors} or {"optical"}
    if sensor_family(obs.sensor) in families:
        return None
    window = timedelta(days=config.confirm_days)
    first = datetime.fromisoformat(alert.first_seen)
    last = datetime.fromisoformat(alert.last_seen)
    if not first - window <= obs.acquired <= last + window:
        return None
    change = _with_support(alert, obs, config)
    return replace(change, alert=replace(change.alert, sensors=tuple(sorted({*alert.sensors, obs.sensor}))))


def suppressed(alert: Alert | None, obs: Observation, config: AlertsConfig) -> AlertChange | None:
    """If ``alert`` was dismissed and ``obs`` falls in its suppression window without scoring above the
    level of the dismissed alert's best score, the ``suppressed`` change recording ``obs`` on it; else
    None."""
    if alert is None or not alert.dismissed_at or not alert.suppress_until:
        return None
    if not _supporting(obs, config) or obs.scene_id in alert.scene_ids:
        return None
    assert obs.score is not None
    acquired = obs.acquired.astimezone(UTC).isoformat()
    level = level_for(obs.score, config)
    assert level is not None
    dismissed_level = level_for(alert.score, config) or AlertLevel.LOW  # its best score's, uncapped
    if acquired > alert.suppress_until or level.rank > dismissed_level.rank:
        return None
    updated = replace(
        alert,
        scene_ids=(*alert.scene_ids, obs.scene_id),
        last_seen=max(alert.last_seen, acquired),
        last_observed=max(alert.last_observed or acquired, acquired),
    )
    return AlertChange("suppressed", updated)


def step(
    alert: Alert | None,
    kind: AlertKind | str,
    obs: Observation,
    config: AlertsConfig,
    previous: Observation | None = None,
) -> AlertChange | None:
    """Apply one observation to the open alert of its site/zone/kind (``alert``: None if none is firing).

    ``previous`` is the zone's previous usable observation of the same sensor (None: none or unknown).
    An observation without a clear view (:attr:`Observation.clear_view`) opens an alert only when
    ``previous`` supports it too (usable, at or above the threshold); the alert then starts at
    ``previous`` and counts both. Returns the change, or None when the observation changes nothing.
    """
    if obs.score is None or obs.usable_fraction < config.min_usable_fraction:
        return None
    acquired = obs.acquired.astimezone(UTC).isoformat()
    firing = alert is not None and alert.firing
    if obs.score >= config.threshold:
        if not firing:
            confirmed_by = previous if previous is not None and _supporting(previous, config) else None
            if not obs.clear_view and confirmed_by is None:
                return None  # waits for confirmation: a cloud's edge can look like a formation once
            first = confirmed_by or obs
            scene_ids = [obs.scene_id] if confirmed_by is None else [confirmed_by.scene_id, obs.scene_id]
            best = max(obs.score, confirmed_by.score or 0.0) if confirmed_by is not None else obs.score
            level = alert_level(best, len(scene_ids), config)
            assert level is not None
            new = Alert(
                id=alert_id(obs.site, obs.zone, kind, first.acquired),
                site=obs.site,
                zone=obs.zone,
                kind=AlertKind(kind),
                level=level,
                status=AlertStatus.FIRING,
                first_seen=first.acquired.astimezone(UTC).isoformat(),
                last_seen=acquired,
                scene_ids=tuple(scene_ids),
                score=round(best, 4),
                last_observed=acquired,
                sensors=tuple(sorted({s for s in (first.sensor, obs.sensor) if s})),
            )
            return AlertChange("opened", new)
        assert alert is not None
        change = _with_support(alert, obs, config)
        sensors = tuple(sorted({*alert.sensors, obs.sensor})) if obs.sensor else change.alert.sensors
        return replace(change, alert=replace(change.alert, last_observed=acquired, quiet=0, sensors=sensors))
    if not firing:
        return None
    assert alert is not None
    quiet = alert.quiet + 1
    if quiet >= config.resolve_after:
        resolved = replace(
            alert, last_observed=acquired, quiet=quiet, status=AlertStatus.RESOLVED, resolved_at=acquired
        )
        return AlertChange("resolved", resolved)
    return AlertChange("quiet", replace(alert, last_observed=acquired, quiet=quiet))


def advance(
    latest: Alert | None,
    kind: AlertKind | str,
    obs: Observation,
    config: AlertsConfig,
    previous: Observation | None = None,
) -> AlertChange | None:
    """The whole rule for one observation given the latest alert of its site/zone/kind (firing,
    resolved or dismissed; None if there never was one) and the zone's previous usable observation
    (``previous``, see :func:`step`): late observations only corroborate, a dismissed pattern is
    suppressed for a while, anything else steps the firing alert or opens a new one."""
    if is_late(obs, latest):
        return corroborate(latest, obs, config)
    quiet = suppressed(latest, obs, config)
    if quiet is not None:
        return quiet
    current = latest if latest is not None and latest.firing else None
    return step(current, kind, obs, config, previous)
