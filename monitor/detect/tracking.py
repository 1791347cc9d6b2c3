"""Objects over time: is a detection new (transient), seen before on and off (recurring), or always there
(persistent)?

Formations come and go between passes (troops rest, rehearse, leave); vehicle parks stay for weeks;
construction stays for good. A change seen at the same place in every usable observation for longer than
a rehearsal season's park is not a formation but a new state of the ground: it is reported as
``persistent`` and no longer counts towards the formation scores (it is absorbed, as the baseline will be
refreshed to include it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from monitor.detect.classes import FORMATION_CLASSES, DetectionClass
from monitor.detect.formations import Detection

#: Two detections of different scenes are the same object when their centres are this close (m):
#: a block's centre moves by up to a pixel with the PSF and the grid, a park's by its changing edge.
MATCH_DISTANCE_M = 30.0
#: A change seen at the same place in every usable observation for at least this long is persistent.
#: Parade parks stay for weeks (a rehearsal season runs 2-3 months); new buildings stay for good.
PERSISTENT_AFTER = timedelta(days=100)
#: ... and in at least this many usable observations (a long gap without views proves nothing).
PERSISTENT_MIN_OBSERVATIONS = 6
#: Classes whose detections are tracked (the others never count towards a score anyway).
TRACKED = FORMATION_CLASSES


@dataclass(frozen=True)
class Past:
    """One earlier usable observation of a zone: when, and the centres (row, col, px) of what was detected."""

    acquired: datetime
    centres: tuple[tuple[float, float], ...]


def _seen(centre: tuple[float, float], past: Past, resolution: float) -> bool:
    limit = MATCH_DISTANCE_M / resolution
    return any(math.hypot(centre[0] - r, centre[1] - c) <= limit for r, c in past.centres)


def persistence(detection: Detection, history: Sequence[Past], acquired: datetime, resolution: float) -> str:
    """``transient`` (not seen in the previous observation), ``recurring`` (seen before, not always), or
    ``persistent`` (seen in every usable observation of at least :data:`PERSISTENT_AFTER` before
    ``acquired``, at least :data:`PERSISTENT_MIN_OBSERVATIONS` of them). ``history`` is the zone's
    earlier usable observations, any order; ``resolution`` the pixel size in metres."""
    past = sorted((p for p in history if p.acquired < acquired), key=lambda p: p.acquired, reverse=True)
    centre = (detection.row, detection.col)
    streak: list[Past] = []
    for p in past:
        if not _seen(centre, p, resolution):
            break
        streak.append(p)
    if streak and acquired - streak[-1].acquired >= PERSISTENT_AFTER and len(streak) >= PERSISTENT_MIN_OBSERVATIONS:
        return "persistent"
    if streak or any(_seen(centre, p, resolution) for p in past):
        return "recurring"
    return "transient"


def track(
    detections: Sequence[Detection], history: Sequence[Past], acquired: datetime, resolution: float
) -> list[Detection]:
    """The detections with their ``persistence`` set; persistent ones of a formation class become
    ``persistent-change`` (construction or other lasting change), which no score counts."""
    out = []
    for d in detections:
        if d.cls not in TRACKED:
            out.append(d)
            continue
        state = persistence(d, history, acquired, resolution)
        cls = DetectionClass.PERSISTENT_CHANGE if state == "persistent" else d.cls
        out.append(replace(d, persistence=state, cls=cls))
    return out
