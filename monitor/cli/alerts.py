"""``monitor alerts``: the alerts."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.options import config_option, format_option, site_option


@click.command("alerts")
@config_option
@site_option
@format_option
def command(config_path: Path | None, site: str | None, fmt: str) -> None:
    """Print the alerts (JSON: an array of objects with the contract's fields)."""
    from monitor.archive import Catalogue
    from monitor.config import load_config
    from monitor.tables import ALERT_FIELDS, alert_rows, format_rows

    config = load_config(config_path)
    with Catalogue(config.data_dir, readonly=True) as catalogue:
        click.echo(format_rows(alert_rows(catalogue, site=site), ALERT_FIELDS, fmt), nl=False)
