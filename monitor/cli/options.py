"""Options shared by several commands: the same name means the same thing everywhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.report.selection import Selection

F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Config file (TOML). Default: $MONITOR_CONFIG, else ./monitor.toml.",
)
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="Output format on stdout.",
)
site_option = click.option("--site", default=None, help="Only this site id.")


def selection(
    config: Config, *, site: str | None = None, zone: str | None = None, status: str | None = None
) -> Selection:
    """The filter checked against the config (the same rules as the analysis API); a value that names
    nothing is a usage error on its option (exit 2)."""
    from monitor.report.selection import SelectionError, config_zones, select

    try:
        return select(config_zones(config), site=site, zone=zone, status=status)
    except SelectionError as exc:
        raise click.BadParameter(str(exc), param_hint=exc.option) from None
