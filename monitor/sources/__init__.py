"""Scene sources (I/O only). ``make_source`` builds the one a ``[[sources]]`` entry names."""

from __future__ import annotations

from monitor.config import SourceConfig
from monitor.errors import ConfigError
from monitor.sources.base import BandAsset, SceneRef, Source

__all__ = ["BandAsset", "SceneRef", "Source", "make_source"]


def make_source(config: SourceConfig) -> Source:
    """The :class:`Source` for one config entry."""
    if config.kind == "local":
        from monitor.sources.local import LocalSource

        return LocalSource(config)
    raise ConfigError(
        f"source kind {config.kind!r} is part of the contract but not available in this version yet; "
        'use kind = "local"',
        key="sources.kind",
    )
