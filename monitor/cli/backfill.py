"""``monitor backfill``: score history in parallel on Dask, with the same tables as ``monitor run``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from monitor.cli.options import config_option, site_option


@click.command("backfill")
@config_option
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    required=True,
    help="First day (UTC) of the history to score, e.g. 2017-01-01.",
)
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Last day (UTC, inclusive). Default: up to now.",
)
@site_option
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes of the local Dask cluster. Default: the CPU count.",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDR",
    help="Use the existing Dask cluster at ADDR (tcp://host:8786) instead of a local one.",
)
@click.option(
    "--notify",
    is_flag=True,
    default=False,
    help="Send the messages a run would send for the alerts found. Default: one summary message.",
)
@click.pass_context
def command(
    ctx: click.Context,
    config_path: Path | None,
    since: datetime,
    until: datetime | None,
    site: str | None,
    workers: int | None,
    scheduler: str | None,
    notify: bool,
) -> None:
    """Fetch and score every scene of a period, in parallel; resumable.

    Fetches run ahead on the Dask workers while this process, the archive's only writer, builds each
    month's baseline from the months before it and commits scores and alerts in time order: the result
    is what `monitor run` would give. Interrupted (Ctrl-C, a lost worker), the next backfill goes on
    where it stopped. Without Dask (pip install 'monitor[dask]') it runs in this process. Alerts found in
    history are recorded and summed up in one message, unless --notify.
    """
    import os

    from monitor.config import load_config
    from monitor.pipeline.backfill import backfill

    if workers is not None and scheduler is not None:
        raise click.UsageError("--workers and --scheduler exclude each other")
    if until is not None and until < since:
        raise click.BadParameter("must not be before --since", param_hint="--until")
    config = load_config(config_path)
    if site is not None:
        config.site(site)
    progress = ctx.obj["quiet"] == 0 and click.get_text_stream("stderr").isatty()
    summary = backfill(
        config,
        since=since.date(),
        until=until.date() if until else None,
        site=site,
        workers=workers if workers is not None or scheduler is not None else (os.cpu_count() or 1),
        scheduler=scheduler,
        notify=notify,
        progress=progress,
    )
    if ctx.obj["quiet"] == 0:
        rate = summary.done / max(summary.seconds, 1e-9) * 60.0
        click.echo(
            f"monitor: backfill {summary.done}/{summary.planned} scene(s) in {summary.seconds:.0f} s "
            f"({rate:.1f}/min on {summary.workers} worker(s)): {summary.new_scenes} fetched, "
            f"{summary.failed_scenes} failed, {summary.empty_scenes} empty, {summary.scored_scenes} scored, "
            f"{summary.waiting} waiting for a baseline, {len(summary.alerts_recorded)} alert(s) recorded, "
            f"{summary.messages_queued} message(s) queued; archive {config.data_dir}",
            err=True,
        )
    if summary.errors:
        click.echo(f"monitor: error: {len(summary.errors)} problem(s), first: {summary.errors[0]}", err=True)
        ctx.exit(1)
