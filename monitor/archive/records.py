"""The archive's records: frozen, typed rows that cross the archive's boundary instead of dicts.

Every record mirrors one table (``scenes``, ``scores``, ``alerts``, ``baselines``, ``outbox``,
``feedback``, ``notifications``). States are str-valued enums, so the stored text and the public tables
(``monitor scores|alerts|scenes``) stay what they were: ``SceneStatus.OK == "ok"`` and
``json.dumps(SceneStatus.OK) == '"ok"'``. Times are kept as the ISO-8601 UTC text the archive stores
(``2023-01-15T02:15:30+00:00``), which is also what the tables print; ``*_at`` properties parse them.

No SQL, numpy or rasterio here: the alert engine and the read-only commands import this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from monitor.provenance import is_simulated


class SceneStatus(StrEnum):
    """What became of a scene: ``ok`` (its crop is archived), ``failed`` (could not be read; the reason
    says why, retried while attempts are left), ``empty`` (holds nothing of the site)."""

    OK = "ok"
    FAILED = "failed"
    EMPTY = "empty"


class ScoreState(StrEnum):
    """Why a score row's columns are what they are. Two more states carry text and are stored as it:
    ``missing bands B11,B12`` and ``error: <what went wrong>``."""

    PENDING = "pending"  # waiting for a baseline
    SCORED = "scored"  # at least some of the zone was compared
    UNUSABLE = "unusable"  # no pixel of the zone could be compared (haze, cloud margins, no baseline cover)
    FAILED = "failed"  # the scene could not be read
    EMPTY = "empty"  # the scene holds nothing of the site


class AlertKind(StrEnum):
    """What an alert is about."""

    CROWD = "crowd"
    VEHICLE = "vehicle"


class AlertLevel(StrEnum):
    """How strong an alert is; ordered low < medium < high (:attr:`rank`)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        """0 for low, 1 medium, 2 high."""
        return list(AlertLevel).index(self)


class AlertStatus(StrEnum):
    """An alert fires until ``resolve_after`` quiet observations in a row resolve it (or an analyst
    dismisses it)."""

    FIRING = "firing"
    RESOLVED = "resolved"


class OutboxStatus(StrEnum):
    """A queued message: ``pending`` until the SMTP server accepted it (``sent``) or, with email
    disabled, its ``.eml`` file is the delivery (``written``)."""

    PENDING = "pending"
    SENT = "sent"
    WRITTEN = "written"


class FeedbackAction(StrEnum):
    """An analyst's action on an alert."""

    ACK = "ack"
    DISMISS = "dismiss"


def parse_time(value: str | None) -> datetime | None:
    """An archive timestamp (ISO-8601) as an aware datetime, or None."""
    return None if value is None else datetime.fromisoformat(value)


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """Enum members as their plain text (what the tables and DataFrames show)."""
    return {k: v.value if isinstance(v, StrEnum) else v for k, v in values.items()}


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True)
class SceneRecord:
    """One row of ``scenes``: an acquisition of a site, and what became of it.

    ``usable_fraction`` is the share 0..1 of the site's pixels that were clear and valid; ``scored`` is
    True once the scene's score rows are final (unusable scenes are scored at once); ``registration`` is
    the co-registration outcome text (``ok``, ``unregistered: <why>``, ``skipped: radar``) and
    ``shift_dx``/``shift_dy`` the shift applied, px east / south. ``attempts`` counts the times it was
    recorded (a failed scene is retried while ``attempts < detect.max_attempts``).
    """

    site: str
    scene_id: str
    source: str
    acquired: str | None
    sensor: str
    status: SceneStatus
    reason: str | None = None
    href: str | None = None
    checksum: str | None = None
    crop: str | None = None
    usable_fraction: float = 0.0
    provenance: Mapping[str, Any] = field(default_factory=dict)
    scored: bool = False
    platform: str | None = None
    orbit: int | None = None
    harmonisation: str | None = None
    processing_units: float | None = None
    shift_dx: float | None = None
    shift_dy: float | None = None
    registration: str | None = None
    attempts: int = 0
    updated_at: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", SceneStatus(self.status))
        object.__setattr__(self, "provenance", _frozen_mapping(self.provenance))
        object.__setattr__(self, "scored", bool(self.scored))

    @property
    def acquired_at(self) -> datetime | None:
        """``acquired`` as an aware datetime."""
        return parse_time(self.acquired)

    @property
    def simulated(self) -> bool:
        """See :func:`monitor.provenance.is_simulated`."""
        return is_simulated(self.provenance)

    def as_dict(self) -> dict[str, Any]:
        """The row as a plain dict (for DataFrames and JSON), ``provenance`` as a dict."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["provenance"] = dict(self.provenance)
        return _plain(out)


@dataclass(frozen=True)
class ScoreRecord:
    """One row of ``scores``: one zone of one scene (the public score table's columns, then ``state``,
    ``baseline_version`` and the classified ``detections`` as stored JSON objects).

    Fractions are 0..1 (``usable_fraction`` rounded to 6 digits, ``change_fraction`` too), scores 0..1
    rounded to 4 digits; None where the contract leaves the cell empty.
    """

    site: str
    zone: str
    scene_id: str
    acquired: str | None
    sensor: str
    usable_fraction: float
    change_fraction: float | None = None
    crowd_score: float | None = None
    vehicle_score: float | None = None
    state: str = ScoreState.PENDING
    baseline_version: int | None = None
    detections: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        with suppress(ValueError):  # "missing bands ..." and "error: ..." are stored as their text
            object.__setattr__(self, "state", ScoreState(self.state))
        object.__setattr__(self, "detections", tuple(_frozen_mapping(d) for d in self.detections))

    @property
    def acquired_at(self) -> datetime | None:
        """``acquired`` as an aware datetime."""
        return parse_time(self.acquired)

    @property
    def compared(self) -> bool:
        """True when some of the zone was compared with the baseline (``change_fraction`` is given)."""
        return self.change_fraction is not None

    def as_dict(self) -> dict[str, Any]:
        """The row as a plain dict, ``detections`` as a list of dicts."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["detections"] = [dict(d) for d in self.detections]
        return _plain(out)


@dataclass(frozen=True)
class Alert:
    """One alert: a site, zone and kind while it fires (see :mod:`monitor.alerts.engine`).

    ``first_seen``/``last_seen`` are the acquisition times (ISO-8601 UTC) of ``scene_ids``, the scenes
    that raised or confirmed it; ``score`` its best 0..1 score; ``evidence`` the absolute paths of its
    rendered files; ``quiet`` the quiet observations in a row; ``last_observed`` the newest observation
    taken into account (quiet ones too); ``notified_*`` what its last message said; ``suppress_until`` how
    long a dismissed alert keeps its pattern from alerting again.
    """

    id: str
    site: str
    zone: str
    kind: AlertKind
    level: AlertLevel
    status: AlertStatus
    first_seen: str
    last_seen: str
    scene_ids: tuple[str, ...]
    score: float
    evidence: tuple[str, ...] = ()
    quiet: int = 0
    resolved_at: str | None = None
    notified_level: AlertLevel | None = None
    notified_status: AlertStatus | None = None
    last_observed: str | None = None
    sensors: tuple[str, ...] = ()
    notified_at: str | None = None
    acked_at: str | None = None
    dismissed_at: str | None = None
    dismiss_reason: str | None = None
    suppress_until: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", AlertKind(self.kind))
        object.__setattr__(self, "level", AlertLevel(self.level))
        object.__setattr__(self, "status", AlertStatus(self.status))
        if self.notified_level is not None:
            object.__setattr__(self, "notified_level", AlertLevel(self.notified_level))
        if self.notified_status is not None:
            object.__setattr__(self, "notified_status", AlertStatus(self.notified_status))
        for name in ("scene_ids", "evidence", "sensors"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @property
    def firing(self) -> bool:
        """True while the alert fires."""
        return self.status is AlertStatus.FIRING

    def as_dict(self) -> dict[str, Any]:
        """The alert as a plain dict, lists for the tuple fields (JSON, DataFrames)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("scene_ids", "evidence", "sensors"):
            out[name] = list(out[name])
        return _plain(out)


@dataclass(frozen=True)
class BaselineVersion:
    """One row of ``baselines``: version ``version`` of a site's ``sensor`` baseline, the median of
    ``scene_ids``, stored at ``path``; ``composition`` says which rule chose them (``kind``, ``rule``,
    ``chosen``), which alerted scenes were kept out and each scene's registration."""

    site: str
    sensor: str
    version: int
    scene_ids: tuple[str, ...]
    path: str
    created_at: str
    composition: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scene_ids", tuple(self.scene_ids))
        object.__setattr__(self, "composition", _frozen_mapping(self.composition))

    @property
    def chosen(self) -> tuple[str, ...]:
        """What its rule chose (before scenes with another band set were left out)."""
        return tuple(self.composition.get("chosen", ()))

    def made_of(self, scene_ids: tuple[str, ...]) -> bool:
        """True when this version is the baseline of ``scene_ids`` (as built, or as chosen)."""
        return scene_ids in (self.scene_ids, self.chosen)


@dataclass(frozen=True)
class SceneTime:
    """What the baseline choice needs of a scene, and no more: its id, acquisition (ISO-8601 UTC) and
    relative orbit (None when unknown). A history of thousands of scenes is read for every choice, so the
    choice reads these instead of full :class:`SceneRecord` rows (no provenance JSON parsed)."""

    scene_id: str
    acquired: str | None
    orbit: int | None = None

    @property
    def acquired_at(self) -> datetime | None:
        """``acquired`` as an aware datetime."""
        return parse_time(self.acquired)


@dataclass(frozen=True)
class OutboxMessage:
    """One row of ``outbox``: a queued message, its ``.eml`` file and its delivery state."""

    id: int
    message_id: str
    created_at: str
    recipients: str
    subject: str
    path: str
    status: OutboxStatus
    attempts: int = 0
    last_error: str | None = None
    sent_at: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", OutboxStatus(self.status))


@dataclass(frozen=True)
class FeedbackRecord:
    """One analyst action on an alert (``feedback`` table): what, why, when (ISO-8601 UTC) and who."""

    id: int
    alert_id: str
    action: FeedbackAction
    reason: str | None
    at: str
    analyst: str | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", FeedbackAction(self.action))


@dataclass(frozen=True)
class NotificationRecord:
    """What one message said about one alert (``notifications`` joined with the message's delivery)."""

    message_id: str
    alert_id: str
    action: str
    level: AlertLevel
    status: AlertStatus
    queued_at: str
    delivery: OutboxStatus | None = None
    sent_at: str | None = None


@dataclass(frozen=True)
class SiteGridRecord:
    """The analysis grid a site's archive was built on (``site_grids``): CRS, affine transform (6
    numbers, rounded to 1e-6), width and height in pixels."""

    site: str
    crs: str
    transform: tuple[float, ...]
    width: int
    height: int


@dataclass(frozen=True)
class SiteStats:
    """How many scenes a site has in the archive and their time span, and how many alerts."""

    site: str
    scenes: int
    first_acquired: str | None
    last_acquired: str | None
    alerts: int


@dataclass(frozen=True)
class RunRecord:
    """What one run changed (``runs`` table)."""

    started_at: str
    finished_at: str
    new_scenes: int
    failed_scenes: int
    alerts_changed: int
