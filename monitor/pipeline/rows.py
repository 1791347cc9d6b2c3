"""Rows of the score table, built in one place."""

from __future__ import annotations

import hashlib

from monitor.archive.records import ScoreRecord
from monitor.detect.scoring import ZoneScore


def score_row(
    site: str,
    zone: str,
    scene_id: str,
    acquired: str | None,
    sensor: str,
    usable_fraction: float,
    state: str,
    baseline_version: int | None = None,
    score: ZoneScore | None = None,
) -> ScoreRecord:
    """One row of the score table; the change and formation columns come from ``score`` when given.

    ``state`` says why the score columns are what they are: ``pending`` (waiting for the baseline),
    ``scored``, ``unusable`` (no pixel could be compared), ``failed`` / ``empty`` (the scene could not be
    read or holds nothing of the site), ``missing bands ...``, or ``error: ...`` (see
    :class:`~monitor.archive.records.ScoreState`).
    """

    def rounded(value: float | None, digits: int) -> float | None:
        return None if value is None else round(value, digits)

    return ScoreRecord(
        site=site,
        zone=zone,
        scene_id=scene_id,
        acquired=acquired,
        sensor=sensor,
        usable_fraction=round(usable_fraction, 6),
        change_fraction=rounded(score.change_fraction if score else None, 6),
        crowd_score=rounded(score.crowd_score if score else None, 4),
        vehicle_score=rounded(score.vehicle_score if score else None, 4),
        state=state,
        baseline_version=baseline_version,
        detections=tuple(d.to_dict() for d in score.detections) if score else (),
    )


def safe_name(name: str) -> str:
    """A scene id as a file name: letters, digits and ``-_.`` kept, anything else ``_``; when anything was
    replaced, a short hash of the id is appended so that two ids never share a file."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
    if safe == name:
        return name
    return f"{safe}-{hashlib.sha256(name.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"
