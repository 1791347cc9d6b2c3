"""The alert state machine: open, confirm, raise, resolve; unusable observations change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.alerts import (
    Observation,
    acknowledged,
    advance,
    alert_level,
    dismissed,
    is_late,
    kinds_for_zone,
    level_for,
    step,
)
from monitor.archive.records import Alert
from monitor.config import AlertsConfig

CFG = AlertsConfig(threshold=0.5, medium=0.7, high=0.85, min_usable_fraction=0.3, resolve_after=2)
T0 = datetime(2025, 7, 1, 2, 0, tzinfo=UTC)


def obs(i: int, score: float | None, usable: float = 1.0) -> Observation:
    return Observation("mirim", "square", f"S2_{i:02d}", T0 + timedelta(days=5 * i), usable, score)


def play(scores: list[tuple[float | None, float]]) -> list[tuple[str, Alert]]:
    alert = None
    out = []
    for i, (score, usable) in enumerate(scores):
        change = step(alert, "crowd", obs(i, score, usable), CFG)
        if change is not None:
            out.append((change.action, change.alert))
            alert = change.alert
    return out


def test_levels() -> None:
    assert level_for(0.49, CFG) is None
    assert level_for(0.5, CFG) == "low"
    assert level_for(0.75, CFG) == "medium"
    assert level_for(0.9, CFG) == "high"


def test_zone_kinds() -> None:
    assert kinds_for_zone("crowd") == ("crowd",)
    assert kinds_for_zone("vehicle") == ("vehicle",)
    assert kinds_for_zone("any") == ("crowd", "vehicle")


def test_lifecycle_open_raise_confirm_resolve() -> None:
    events = play([(0.1, 1), (0.6, 1), (0.9, 1), (0.6, 1), (0.2, 1), (0.1, 1), (0.8, 1)])
    actions = [a for a, _ in events]
    assert actions == ["opened", "raised", "confirmed", "quiet", "resolved", "opened"]
    first = events[4][1]
    assert first.status == "resolved" and first.level == "high"
    assert first.scene_ids == ("S2_01", "S2_02", "S2_03")  # the scenes that raised or confirmed it
    assert first.first_seen < first.last_seen < first.resolved_at
    assert first.id == "mirim/square/crowd/20250706T020000Z"
    assert events[-1][1].id != first.id


def test_unusable_observations_neither_confirm_nor_count_as_quiet() -> None:
    events = play([(0.6, 1), (None, 0), (0.1, 0.1), (0.1, 1), (0.9, 0.2), (0.1, 1)])
    assert [a for a, _ in events] == ["opened", "quiet", "resolved"]


def test_below_threshold_without_alert_is_nothing() -> None:
    assert play([(0.1, 1), (0.2, 1)]) == []


# --- confirmation of high, Sentinel-1/2 agreement, dismissal and suppression ----------------------------


def obs_at(days: float, score: float, sensor: str = "S2", usable: float = 1.0, scene: str | None = None) -> Observation:
    return Observation(
        "mirim", "square", scene or f"{sensor}_{days:g}", T0 + timedelta(days=days), usable, score, sensor
    )


def test_one_observation_opens_at_most_medium_and_a_second_confirms_high() -> None:
    opened = step(None, "crowd", obs_at(0, 0.95), CFG)
    assert opened is not None and opened.action == "opened" and opened.alert.level == "medium"
    assert opened.alert.score == 0.95 and opened.alert.sensors == ("S2",)
    confirmed = step(opened.alert, "crowd", obs_at(5, 0.6), CFG)  # weaker, but a formation is there again
    assert confirmed is not None and confirmed.action == "raised" and confirmed.alert.level == "high"
    assert confirmed.alert.scene_ids == ("S2_0", "S2_5")


def test_low_and_medium_open_on_one_observation() -> None:
    assert alert_level(0.55, 1, CFG) == "low" and alert_level(0.75, 1, CFG) == "medium"
    assert alert_level(0.95, 1, CFG) == "medium" and alert_level(0.95, 2, CFG) == "high"
    assert alert_level(0.3, 5, CFG) is None


def test_a_late_radar_observation_within_days_confirms_an_optical_alert() -> None:
    alert = step(None, "vehicle", obs_at(10, 0.9), CFG)
    assert alert is not None and alert.alert.level == "medium"
    latest = alert.alert
    late_radar = obs_at(8, 0.6, sensor="S1")  # acquired two days earlier, published later
    assert is_late(late_radar, latest)
    change = advance(latest, "vehicle", late_radar, CFG)
    assert change is not None and change.action == "raised" and change.alert.level == "high"
    assert change.alert.first_seen == late_radar.acquired.isoformat() and change.alert.sensors == ("S1", "S2")
    assert advance(change.alert, "vehicle", late_radar, CFG) is None  # the same scene never confirms twice
    # same family, or outside confirm_days, or too weak: a late observation changes nothing
    assert advance(latest, "vehicle", obs_at(9, 0.9, sensor="S2"), CFG) is None
    assert advance(latest, "vehicle", obs_at(10 - CFG.confirm_days - 1, 0.9, sensor="S1"), CFG) is None
    assert advance(latest, "vehicle", obs_at(9, 0.2, sensor="S1"), CFG) is None


def test_dismissed_pattern_is_suppressed_then_alerts_again() -> None:
    opened = step(None, "crowd", obs_at(0, 0.75), CFG)
    assert opened is not None
    when = datetime(2025, 7, 2, 12, tzinfo=UTC)
    gone = dismissed(opened.alert, "a market, not troops", when, CFG)
    assert gone.status == "resolved" and gone.resolved_at == opened.alert.last_seen
    assert gone.notified_status == "resolved" and gone.dismiss_reason == "a market, not troops"
    assert gone.suppress_until == (T0 + timedelta(days=CFG.dismiss_suppress_days)).isoformat()
    again = advance(gone, "crowd", obs_at(5, 0.8), CFG)  # same level, inside the window
    assert again is not None and again.action == "suppressed" and again.alert.id == gone.id
    assert again.alert.scene_ids == ("S2_0", "S2_5")  # kept out of baselines with the dismissed ones
    stronger = advance(again.alert, "crowd", obs_at(10, 0.9), CFG)  # high: a stronger pattern alerts
    assert stronger is not None and stronger.action == "opened" and stronger.alert.id != gone.id
    later = advance(again.alert, "crowd", obs_at(CFG.dismiss_suppress_days + 1, 0.8), CFG)
    assert later is not None and later.action == "opened"
    assert advance(again.alert, "crowd", obs_at(12, 0.1), CFG) is None  # quiet: nothing to suppress


def test_acknowledged_keeps_firing_and_keeps_its_first_time() -> None:
    opened = step(None, "crowd", obs_at(0, 0.75), CFG)
    assert opened is not None
    first = acknowledged(opened.alert, datetime(2025, 7, 3, tzinfo=UTC))
    second = acknowledged(first, datetime(2025, 7, 4, tzinfo=UTC))
    assert first.status == "firing" and second.acked_at == "2025-07-03T00:00:00+00:00"
