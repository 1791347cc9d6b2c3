"""The evidence files of one zone in one scene, by kind, and how to find the newest of each kind.

``<scene>.png`` (three panels side by side), ``<scene>.phone.png`` (stacked, for a phone),
``<scene>.gif`` (the zone's last usable scenes), ``<scene>-change.tif`` (the site's change map, COG) and
``<scene>.geojson`` (the detections, WGS84).

The evidence of an alert's opening and of each raise in level is kept; a confirmation's evidence is written
under ``<zone>/confirmed/`` and replaced by the next confirmation's (:func:`is_confirmation`), so an alert
holds at most :data:`MAX_GROUPS` groups of files however long it fires.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

#: The sub-folder of a zone's evidence that holds confirmations' files (replaced, never accumulated).
CONFIRMED = "confirmed"
#: Evidence groups an alert can hold: its opening, two raises (low -> medium -> high), its latest confirmation.
MAX_GROUPS = 4
SUFFIXES = {"png": ".png", "phone": ".phone.png", "gif": ".gif", "cog": "-change.tif", "geojson": ".geojson"}


def kind_of(path: str | Path) -> str | None:
    """The kind of an evidence file from its name (``phone`` before ``png``), None if unknown."""
    name = Path(path).name
    for kind in ("phone", "png", "gif", "cog", "geojson"):
        if name.endswith(SUFFIXES[kind]):
            return kind
    return None


def newest(paths: Sequence[str], kind: str) -> Path | None:
    """The last file of ``kind`` in an alert's ``evidence`` list that still exists, or None."""
    for path in reversed(paths):
        if kind_of(path) == kind and Path(path).is_file():
            return Path(path)
    return None


def newest_of_each(paths: Sequence[str], kinds: Sequence[str] = ("png", "gif", "cog", "geojson")) -> list[Path]:
    """The newest existing file of each kind, in the order of ``kinds``."""
    found = (newest(paths, k) for k in kinds)
    return [p for p in found if p is not None]


def is_confirmation(path: str | Path) -> bool:
    """True for a file of a confirmation's evidence (``.../<zone>/confirmed/<scene>...``): the next
    confirmation of the same alert replaces it."""
    return Path(path).parent.name == CONFIRMED


def onset(paths: Sequence[str], kind: str) -> Path | None:
    """The first file of ``kind`` in an alert's ``evidence`` list that still exists (the observation that
    opened the alert, as the list is in the order the alert's evidence was rendered), or None."""
    for path in paths:
        if kind_of(path) == kind and Path(path).is_file():
            return Path(path)
    return None
