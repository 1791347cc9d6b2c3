"""monitor: watch free Sentinel-1/2 imagery of parade-rehearsal sites, score zone by zone, alert with evidence.

Importing the package is cheap: heavy libraries load only when a function needs them.
"""

from monitor.errors import (
    ArchiveError,
    ConfigError,
    EmptySceneError,
    LockedError,
    MonitorError,
    NotifyError,
    SceneError,
    SourceError,
)

__version__ = "0.1.0"

__all__ = [
    "ArchiveError",
    "ConfigError",
    "EmptySceneError",
    "LockedError",
    "MonitorError",
    "NotifyError",
    "SceneError",
    "SourceError",
    "__version__",
]
