"""``monitor scenes``: the scene catalogue."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.options import config_option, format_option, site_option


@click.command("scenes")
@config_option
@site_option
@click.option("--status", type=click.Choice(["ok", "failed", "empty"]), default=None, help="Only this status.")
@format_option
def command(config_path: Path | None, site: str | None, status: str | None, fmt: str) -> None:
    """Print the scene catalogue with each scene's status.

    Columns: id, site, acquired, sensor, source, status (ok | failed | empty: the scene does not overlap
    the site or holds no valid pixel of it), reason, usable_fraction, attempts, checksum.
    """
    from monitor.archive.catalogue import Catalogue
    from monitor.config import load_config
    from monitor.report.tables import SCENE_COLUMNS, format_rows, scene_rows

    config = load_config(config_path)
    if site is not None:
        config.site(site)
    with Catalogue(config.data_dir, readonly=True) as catalogue:
        click.echo(format_rows(scene_rows(catalogue, site=site, status=status), SCENE_COLUMNS, fmt), nl=False)
