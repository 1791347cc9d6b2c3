"""The monitor's exception hierarchy.

Every error the monitor raises on purpose derives from :class:`MonitorError`. Specific subclasses also
inherit the closest builtin, so callers that only know ``OSError`` or ``ValueError`` still catch them
(the rasterio convention). Third-party errors are wrapped with ``raise ... from exc``.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Root of every error raised by the monitor."""


class ConfigError(MonitorError, ValueError):
    """The configuration is invalid: the message names the file, the key path and what is wrong."""

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        self.path = path
        self.key = key
        where = ": ".join(part for part in (path, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class SourceError(MonitorError, OSError):
    """A scene could not be listed or read from its source."""


class SceneError(MonitorError, ValueError):
    """A scene's content is unusable: missing band names, bad shape, no overlap with the site."""


class EmptySceneError(SceneError):
    """The scene does not overlap the site, or holds no valid pixel inside it."""


class ArchiveError(MonitorError, OSError):
    """The archive (SQLite catalogue or GeoTIFF crops) could not be read or written."""


class LockedError(MonitorError, RuntimeError):
    """Another run holds the archive lock."""


class NotifyError(MonitorError, OSError):
    """A notification could not be delivered."""


class TruthTableError(ConfigError):
    """A ground-truth table (``configs/parades.csv``) is malformed: names the file, line and column."""


class AlertNotFoundError(MonitorError, LookupError):
    """No alert with the given id in the archive."""
