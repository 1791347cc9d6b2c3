"""``monitor scores``: the score table, one row per scene per zone."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.options import config_option, format_option, selection, site_option


@click.command("scores")
@config_option
@site_option
@click.option("--zone", default=None, help="Only this zone id.")
@format_option
def command(config_path: Path | None, site: str | None, zone: str | None, fmt: str) -> None:
    """Print the score table, one row per scene per zone.

    Columns: site, zone, scene_id, acquired, sensor, usable_fraction, change_fraction, crowd_score,
    vehicle_score, then state (why a score is empty: pending, unusable, failed, empty, ...) and
    baseline_version.
    """
    from monitor.archive.catalogue import Catalogue
    from monitor.config import load_config
    from monitor.report.tables import SCORE_COLUMNS, format_rows, score_rows

    config = load_config(config_path)
    selection(config, site=site, zone=zone)
    with Catalogue(config.data_dir, readonly=True) as catalogue:
        click.echo(format_rows(score_rows(catalogue, site=site, zone=zone), SCORE_COLUMNS, fmt), nl=False)
