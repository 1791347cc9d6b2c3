"""``monitor alerts``: the alerts; ``monitor alerts ack ID`` and ``monitor alerts dismiss ID --reason``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor.cli.options import config_option, selection, site_option
from monitor.report.selection import AlertFilter


def _default_format() -> str:
    """``table`` when stdout is a terminal (a person reading), else ``csv`` (a script or a file)."""
    return "table" if sys.stdout.isatty() else "csv"


@click.group("alerts", invoke_without_command=True)
@config_option
@site_option
@click.option(
    "--status",
    type=click.Choice([s.value for s in AlertFilter]),
    default=None,
    help="Only alerts still firing, resolved on their own, or dismissed by an analyst.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json", "table"]),
    default=None,
    help="Output format on stdout. Default: table on a terminal, csv otherwise.",
)
@click.pass_context
def command(
    ctx: click.Context, config_path: Path | None, site: str | None, status: str | None, fmt: str | None
) -> None:
    """Print the alerts, each with its evidence (or acknowledge / dismiss one).

    Fields: id, site, zone, kind, level, status, first_seen, last_seen, scene_ids, score, evidence (absolute
    paths of the rendered pictures), resolved_at, acked_at, dismissed_at, dismiss_reason. CSV joins lists
    with ";"; JSON is an array of objects; table is one line per alert and its newest picture, for reading.
    """
    ctx.ensure_object(dict)
    ctx.obj["alerts_config"] = config_path
    if ctx.invoked_subcommand is not None:
        return
    from monitor.archive.catalogue import Catalogue
    from monitor.config import load_config
    from monitor.report.tables import ALERT_FIELDS, alert_rows, format_alert_table, format_rows

    config = load_config(config_path)
    chosen = selection(config, site=site, status=status)
    with Catalogue(config.data_dir, readonly=True) as catalogue:
        rows = alert_rows(catalogue, site=chosen.site, status=chosen.status)
        fmt = fmt or _default_format()
        if fmt == "table":
            click.echo(format_alert_table(rows), nl=False)
        else:
            click.echo(format_rows(rows, ALERT_FIELDS, fmt), nl=False)


def _config(ctx: click.Context, config_path: Path | None):  # type: ignore[no-untyped-def]
    from monitor.config import load_config

    return load_config(config_path or ctx.obj.get("alerts_config"))


@command.command("ack")
@click.argument("alert_id", metavar="ID")
@config_option
@click.pass_context
def ack(ctx: click.Context, alert_id: str, config_path: Path | None) -> None:
    """Acknowledge alert ID (or any prefix naming one alert): it keeps firing but gets no more repeat
    reminders."""
    from monitor.errors import AlertNotFoundError
    from monitor.pipeline.feedback import acknowledge_alert

    try:
        alert = acknowledge_alert(_config(ctx, config_path), alert_id)
    except AlertNotFoundError as exc:
        raise click.BadParameter(str(exc), param_hint="ID") from None
    click.echo(f"{alert.id} acknowledged ({alert.level}, {alert.status})")


@command.command("dismiss")
@click.argument("alert_id", metavar="ID")
@click.option("--reason", required=True, help='Why it is not a formation, e.g. "construction site".')
@config_option
@click.pass_context
def dismiss(ctx: click.Context, alert_id: str, reason: str, config_path: Path | None) -> None:
    """Dismiss alert ID (or any prefix naming one alert) as not a formation.

    The alert is closed without a message, its scenes stay out of the baseline, and the same site, zone
    and kind do not alert again at the same or a lower level for [alerts] dismiss_suppress_days.
    """
    from monitor.errors import AlertNotFoundError
    from monitor.pipeline.feedback import dismiss_alert

    if not reason.strip():
        raise click.BadParameter("must not be empty", param_hint="--reason")
    try:
        alert = dismiss_alert(_config(ctx, config_path), alert_id, reason)
    except AlertNotFoundError as exc:
        raise click.BadParameter(str(exc), param_hint="ID") from None
    click.echo(f"{alert.id} dismissed; same pattern suppressed until {(alert.suppress_until or '')[:10]}")
