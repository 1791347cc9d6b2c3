"""Alert lifecycle: open, confirm, raise, resolve per site, zone and kind from the score stream; feedback."""

from monitor.alerts.engine import (
    AlertChange,
    Observation,
    advance,
    alert_level,
    corroborate,
    is_late,
    kinds_for_zone,
    level_for,
    step,
    suppressed,
)
from monitor.alerts.feedback import acknowledged, dismissed

__all__ = [
    "AlertChange",
    "Observation",
    "acknowledged",
    "advance",
    "alert_level",
    "corroborate",
    "dismissed",
    "is_late",
    "kinds_for_zone",
    "level_for",
    "step",
    "suppressed",
]
