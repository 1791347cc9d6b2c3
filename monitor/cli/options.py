"""Options shared by several commands: the same name means the same thing everywhere."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
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


def _every(ctx: click.Context, param: click.Parameter, value: str | None) -> timedelta | None:
    if value is None:
        if param.required:  # click 8.3 calls back before it checks for a missing required value
            raise click.MissingParameter(ctx=ctx, param=param)
        return None
    from monitor.pipeline.schedule import parse_every

    try:
        return parse_every(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def every_option(default: str | None) -> Callable[[F], F]:
    """``--every 6h``: the pass interval (30m, 6h, 1d), shared by ``schedule`` and ``watch``."""
    return click.option(
        "--every",
        default=default,
        required=default is None,
        callback=_every,
        metavar="INTERVAL",
        show_default=default is not None,
        help="Time between passes: a whole number and a unit, m, h or d (30m, 6h, 1d).",
    )
