"""Scene sources (I/O only). ``make_source`` builds the one a ``[[sources]]`` entry names."""

from __future__ import annotations

from monitor.config import SourceConfig
from monitor.errors import ConfigError
from monitor.sources.base import BandAsset, SceneRef, Source

__all__ = ["BandAsset", "SceneRef", "Source", "make_source"]


#: Source kinds this version can read; the others are in the contract and arrive with the sources issue.
AVAILABLE = ("local",)


def make_source(config: SourceConfig, *, origin: str = "", index: int = 0) -> Source:
    """The :class:`Source` for the ``index``-th ``[[sources]]`` entry of the config file ``origin``."""
    if config.kind == "local":
        from monitor.sources.local import LocalSource

        return LocalSource(config)
    raise ConfigError(
        f"source kind {config.kind!r} is not available in this version yet (available: {', '.join(AVAILABLE)}); "
        'add a [[sources]] entry with kind = "local" and a path',
        path=origin or None,
        key=f"sources[{index}].kind",
    )
