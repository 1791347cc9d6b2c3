"""``monitor evaluate``: judge the archive's alerts against a table of past parades."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.options import config_option, site_option
from monitor.report.evaluate import DEFAULT_MAX_LEAD_DAYS


@click.command("evaluate")
@config_option
@click.option(
    "--truth",
    "truth_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The parade table (CSV), e.g. configs/parades.csv.",
)
@site_option
@click.option(
    "--max-lead",
    "max_lead_days",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_LEAD_DAYS,
    show_default=True,
    help="Days before a parade within which an alert counts as predicting it.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format on stdout.",
)
def command(config_path: Path | None, truth_path: Path, site: str | None, max_lead_days: int, fmt: str) -> None:
    """For each parade: the first alert, its lead time, and how it compares with public reporting;
    then the alerts that match no parade. Parades with no scene in the archive before them are
    reported as not covered, not as missed."""
    from monitor.archive.catalogue import Catalogue
    from monitor.archive.records import SceneStatus
    from monitor.config import load_config
    from monitor.report.evaluate import evaluate, format_text, to_json
    from monitor.report.truth import read_truth

    events = read_truth(truth_path)
    config = load_config(config_path)
    if site is not None:
        config.site(site)
    with Catalogue(config.data_dir, readonly=True) as catalogue:
        alerts = catalogue.alerts(site=site)
        scenes = [s.acquired for s in catalogue.scenes(site=site, status=SceneStatus.OK) if s.acquired]
        simulated = bool(catalogue.simulated_sites() & ({site} if site else {s.id for s in config.sites}))
    result = evaluate(events, alerts, scenes, site=site, max_lead_days=max_lead_days, simulated=simulated)
    click.echo(format_text(result) if fmt == "text" else to_json(result), nl=False)
