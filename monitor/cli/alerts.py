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
    """Print the alerts, each with its evidence.

    Fields: id, site, zone, kind, level, status, first_seen, last_seen, scene_ids, score, evidence (absolute
    paths of the rendered pictures), resolved_at. CSV joins lists with ";"; JSON is an array of objects.
    """
    from monitor.archive.catalogue import Catalogue
    from monitor.config import load_config
    from monitor.tables import ALERT_FIELDS, alert_rows, format_rows

    config = load_config(config_path)
    if site is not None:
        config.site(site)
    with Catalogue(config.data_dir, readonly=True) as catalogue:
        click.echo(format_rows(alert_rows(catalogue, site=site), ALERT_FIELDS, fmt), nl=False)
