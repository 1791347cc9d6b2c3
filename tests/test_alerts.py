"""The alert state machine: open, confirm, raise, resolve; unusable observations change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.alerts import Observation, kinds_for_zone, level_for, step
from monitor.config import AlertsConfig

CFG = AlertsConfig(threshold=0.5, medium=0.7, high=0.85, min_usable_fraction=0.3, resolve_after=2)
T0 = datetime(2025, 7, 1, 2, 0, tzinfo=UTC)


def obs(i: int, score: float | None, usable: float = 1.0) -> Observation:
    return Observation("mirim", "square", f"S2_{i:02d}", T0 + timedelta(days=5 * i), usable, score)


def play(scores: list[tuple[float | None, float]]) -> list[tuple[str, dict[str, Any]]]:
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
    assert first["status"] == "resolved" and first["level"] == "high"
    assert first["scene_ids"] == ["S2_01", "S2_02", "S2_03"]  # the scenes that raised or confirmed it
    assert first["first_seen"] < first["last_seen"] < first["resolved_at"]
    assert first["id"] == "mirim/square/crowd/20250706T020000Z"
    assert events[-1][1]["id"] != first["id"]


def test_unusable_observations_neither_confirm_nor_count_as_quiet() -> None:
    events = play([(0.6, 1), (None, 0), (0.1, 0.1), (0.1, 1), (0.9, 0.2), (0.1, 1)])
    assert [a for a, _ in events] == ["opened", "quiet", "resolved"]


def test_below_threshold_without_alert_is_nothing() -> None:
    assert play([(0.1, 1), (0.2, 1)]) == []
