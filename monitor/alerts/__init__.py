"""Alert lifecycle: open, raise, resolve per site, zone and kind, from the score stream."""

from monitor.alerts.engine import AlertChange, Observation, is_late, kinds_for_zone, level_for, step

__all__ = ["AlertChange", "Observation", "is_late", "kinds_for_zone", "level_for", "step"]
