"""Scene sources (I/O only). ``make_source`` builds the one a ``[[sources]]`` entry names."""

from __future__ import annotations

from monitor.config import SourceConfig
from monitor.errors import ConfigError
from monitor.sources.base import BandAsset, IncrementalSource, SceneRef, Source
from monitor.sources.retry import RetryPolicy

__all__ = ["AVAILABLE", "BandAsset", "IncrementalSource", "SceneRef", "Source", "make_source"]


#: Source kinds this version can read.
AVAILABLE = ("local", "earth-search", "sentinelhub", "planetary-computer")


def make_source(config: SourceConfig, *, origin: str = "", index: int = 0, retry: RetryPolicy | None = None) -> Source:
    """The :class:`Source` for the ``index``-th ``[[sources]]`` entry of the config file ``origin``;
    ``retry`` replaces a remote source's default retries (``monitor check`` tries once).

    Raises :class:`ConfigError` naming the entry when it cannot be used (e.g. Sentinel Hub credentials
    missing from the environment and from the named profile).
    """
    if config.kind == "local":
        from monitor.sources.local import LocalSource

        return LocalSource(config)
    if config.kind == "earth-search":
        from monitor.sources.stac import EarthSearchSource

        return EarthSearchSource(config, retry=retry)
    if config.kind == "planetary-computer":
        from monitor.sources.planetary_computer import PlanetaryComputerSource

        try:
            return PlanetaryComputerSource(config, retry=retry)
        except ConfigError as exc:
            raise _located(exc, origin, index) from None
    if config.kind == "sentinelhub":
        from monitor.sources.sentinelhub import SentinelHubSource

        try:
            return SentinelHubSource(config, retry=retry)
        except ConfigError as exc:
            raise _located(exc, origin, index) from None
    raise ConfigError(
        f"unknown source kind {config.kind!r} (available: {', '.join(AVAILABLE)})",
        path=origin or None,
        key=f"sources[{index}].kind",
    )


def _located(exc: ConfigError, origin: str, index: int) -> ConfigError:
    """A source's ConfigError (key relative to its entry) placed at ``sources[index]`` of file ``origin``."""
    message = str(exc).removeprefix(f"{exc.key}: ") if exc.key else str(exc)
    key = f"sources[{index}].{exc.key}" if exc.key else f"sources[{index}]"
    return ConfigError(message, path=origin or None, key=key)
