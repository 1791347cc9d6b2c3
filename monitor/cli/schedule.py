"""``monitor schedule --print``: a crontab line and a systemd service + timer for this config."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from monitor.cli.options import config_option, every_option


@click.command("schedule")
@config_option
@click.option("--print", "show", is_flag=True, required=True, help="Print the crontab line and systemd units.")
@every_option("6h")
def command(config_path: Path | None, show: bool, every: timedelta) -> None:
    """Print a crontab line and a systemd service + timer that run `monitor -q run` for this config.

    Nothing is installed: copy the crontab lines into `crontab -e`, or the two units into
    ~/.config/systemd/user/. Paths are absolute (this monitor executable, the config file); the cron
    line holds a flock so passes never overlap; -q keeps a quiet pass silent, so cron mails only errors
    and new alerts. Intervals must repeat evenly in a day: minutes dividing 60, hours dividing 24, or 1d.
    """
    from monitor.config import load_config
    from monitor.pipeline.schedule import crontab, monitor_command, systemd_units

    config = load_config(config_path)
    command = monitor_command()
    try:
        cron = crontab(config, every, command)
        service, timer = systemd_units(config, every, command)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--every'") from None
    click.echo("# ---- crontab ----")
    click.echo(cron)
    click.echo("# ---- systemd service ----")
    click.echo(service)
    click.echo("# ---- systemd timer ----")
    click.echo(timer, nl=False)
