"""What the table queries accept: one validation for the CLI (``--site``, ``--zone``, ``--status``) and the
analysis API (``m.scores(zone=...)``, ``m.alerts(status=...)``), so a typo is refused the same way in both
instead of returning an empty table in a notebook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from monitor.errors import ConfigError

if TYPE_CHECKING:
    from monitor.archive.records import Alert
    from monitor.config import Config

#: The zone id of a site configured without zones: the whole site is scored as one zone.
WHOLE_SITE_ZONE = "site"


class AlertFilter(StrEnum):
    """Which alerts to list. ``dismissed`` is not a stored status: a dismissed alert is closed (resolved)
    with ``dismissed_at`` set, so ``resolved`` lists the alerts that ended on their own, ``dismissed`` the
    ones an analyst closed, and ``firing`` those still open (acknowledged ones too)."""

    FIRING = "firing"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"

    def matches(self, alert: Alert) -> bool:
        """Whether an alert is one of these."""
        dismissed = alert.dismissed_at is not None
        if self is AlertFilter.DISMISSED:
            return dismissed
        return str(alert.status) == self.value and not dismissed


class SelectionError(ConfigError):
    """A ``site``, ``zone`` or ``status`` that names nothing; ``option`` is the CLI option it came from."""

    def __init__(self, message: str, *, option: str) -> None:
        self.option = option
        super().__init__(message)


@dataclass(frozen=True)
class Selection:
    """A validated filter: None means no filter on that field."""

    site: str | None = None
    zone: str | None = None
    status: AlertFilter | None = None


def select(
    zones_by_site: Mapping[str, Sequence[str]],
    *,
    site: str | None = None,
    zone: str | None = None,
    status: str | None = None,
) -> Selection:
    """Check a filter against the sites and their zone ids (the config's, or the archive's when it is
    opened without one). Raises :class:`SelectionError` naming the value and what is known."""
    if site is not None and site not in zones_by_site:
        known = ", ".join(sorted(zones_by_site)) or "none"
        raise SelectionError(f"no site {site!r} (known: {known})", option="--site")
    chosen_status = None
    if status is not None:
        try:
            chosen_status = AlertFilter(status)
        except ValueError:
            known = ", ".join(s.value for s in AlertFilter)
            raise SelectionError(f"no alert status {status!r} (known: {known})", option="--status") from None
    if zone is not None:
        sites = [site] if site is not None else list(zones_by_site)
        known_zones = {z for s in sites for z in (zones_by_site[s] or (WHOLE_SITE_ZONE,))}
        if zone not in known_zones:
            where = f" in site {site!r}" if site is not None else ""
            raise SelectionError(
                f"no zone {zone!r}{where} (known: {', '.join(sorted(known_zones)) or 'none'})", option="--zone"
            )
    return Selection(site=site, zone=zone, status=chosen_status)


def config_zones(config: Config) -> dict[str, list[str]]:
    """Each configured site's zone ids, in config order."""
    return {s.id: [z.id for z in s.zones] for s in config.sites}
