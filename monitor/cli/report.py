"""``monitor report``: an HTML report and a plain-text summary of a period."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from monitor.cli.options import config_option, site_option

DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.command("report")
@config_option
@click.option("--since", type=DATE, default=None, help="First day (YYYY-MM-DD, UTC) of the period.")
@click.option("--until", type=DATE, default=None, help="Last day (YYYY-MM-DD, UTC), inclusive.")
@site_option
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Report folder.")
def command(
    config_path: Path | None, since: datetime | None, until: datetime | None, site: str | None, out: Path
) -> None:
    """Write OUT/index.html and OUT/summary.txt: per site, the score timeline, the alerts with their
    evidence and feedback, and the scenes used. Works offline; pictures are copied into OUT."""
    from monitor.config import load_config
    from monitor.report import build_report

    if since is not None and until is not None and until < since:
        raise click.BadParameter("is before --since", param_hint="--until")
    config = load_config(config_path)
    if site is not None:
        config.site(site)
    if out.exists() and not out.is_dir():
        raise click.BadParameter(f"{out} is not a folder", param_hint="--out")
    result = build_report(
        config,
        out,
        since=since.date() if since else None,
        until=until.date() if until else None,
        site=site,
    )
    click.echo(f"{result.html}\n{result.text}")
