"""``monitor run``: one incremental, idempotent pass (the cron unit)."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.options import config_option


@click.command("run")
@config_option
@click.pass_context
def command(ctx: click.Context, config_path: Path | None) -> None:
    """Discover new scenes, fetch the site crops, score, alert, render, notify."""
    from monitor.config import load_config
    from monitor.pipeline import run

    config = load_config(config_path)
    progress = ctx.obj["quiet"] == 0 and click.get_text_stream("stderr").isatty()
    summary = run(config, progress=progress)
    if ctx.obj["quiet"] == 0:
        click.echo(
            f"monitor: {summary.new_scenes} new scene(s), {summary.failed_scenes} failed, {summary.empty_scenes} "
            f"empty, {summary.scored_scenes} scored, {len(summary.alert_changes)} alert change(s), "
            f"{summary.messages_queued} message(s) queued, {summary.messages_pending} pending; "
            f"archive {config.data_dir}",
            err=True,
        )
    if summary.source_errors:
        for err in summary.source_errors:
            click.echo(f"monitor: source failed: {err}", err=True)
        ctx.exit(1)
