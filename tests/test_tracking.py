"""Objects over time: transient, recurring, persistent (construction is not a formation)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.detect.formations import Detection, crowd_score, vehicle_score
from monitor.detect.tracking import PERSISTENT_AFTER, Past, persistence, track

T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)


def _det(row: float, col: float, cls: str = "vehicle-park", area: float = 6000.0) -> Detection:
    return Detection(cls, area, 100.0, 60.0, 1.7, 0.0, 0.5, row, col, 40.0, -0.01, 0.0, 0.1)


def _history(days: int, every: int, centre: tuple[float, float] | None) -> list[Past]:
    return [Past(T0 + timedelta(days=d), (centre,) if centre else ()) for d in range(0, days, every)]


def test_a_new_change_is_transient_and_one_seen_before_recurring() -> None:
    now = T0 + timedelta(days=30)
    assert persistence(_det(50, 50), [], now, 10.0) == "transient"
    assert persistence(_det(50, 50), _history(30, 5, (90.0, 90.0)), now, 10.0) == "transient"  # elsewhere
    history = [*_history(30, 5, None), Past(T0 + timedelta(days=12), ((51.0, 49.0),))]
    assert persistence(_det(50, 50), history, now, 10.0) == "recurring"


def test_a_change_always_there_for_months_is_persistent_and_no_longer_scores() -> None:
    days = PERSISTENT_AFTER.days + 10
    now = T0 + timedelta(days=days)
    history = _history(days, 7, (50.0, 50.0))
    park = _det(50.5, 49.5)
    assert persistence(park, history, now, 10.0) == "persistent"
    tracked = track([park], history, now, 10.0)
    assert tracked[0].cls == "persistent-change" and tracked[0].persistence == "persistent"
    assert vehicle_score([park]) > 0.5 and vehicle_score(tracked) == 0.0
    # a gap in the streak (a usable observation without it) restarts it: a park that left and came back
    gap = [p for p in history if p.acquired != T0 + timedelta(days=70)] + [Past(T0 + timedelta(days=70), ())]
    assert persistence(park, gap, now, 10.0) == "recurring"


def test_weeks_of_a_park_are_not_yet_persistent() -> None:
    now = T0 + timedelta(days=56)
    assert persistence(_det(50, 50), _history(56, 5, (50.0, 50.0)), now, 10.0) == "recurring"


def test_crowd_blocks_that_come_and_go_keep_their_score() -> None:
    blocks = [_det(10 + 4 * (i // 4), 10 + 4 * (i % 4), "crowd-block", 400.0) for i in range(8)]
    history = _history(120, 10, None)
    tracked = track(blocks, history, T0 + timedelta(days=120), 10.0)
    assert all(d.persistence == "transient" for d in tracked)
    assert crowd_score(tracked, 10.0) == crowd_score(blocks, 10.0) > 0.9
