"""``monitor run``: one incremental, idempotent pass (the cron unit)."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.options import config_option


@click.command("run")
@config_option
@click.pass_context
def command(ctx: click.Context, config_path: Path | None) -> None:
    """One incremental pass: fetch, score, alert, notify (the cron unit).

    Discovers new scenes, fetches each site's crop, scores every zone, raises or resolves alerts, renders
    their evidence and queues one message for the changes. A second run with nothing new does nothing.
    Exit codes: 0 success, 1 the run failed, 2 config error, 75 another run holds the lock.
    """
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
    if summary.deadline_reached:
        click.echo(
            f"monitor: the run's deadline ({config.monitor.deadline:.0f} s) passed: {summary.deferred_scenes} scene(s) "
            "left for the next run",
            err=True,
        )
    if summary.errors:
        shown = summary.errors[:10]
        from monitor.redact import redact

        for problem in shown:  # one line each (an unreachable source: one line per source, with the hint)
            click.echo(f"monitor: error: {redact(problem)}", err=True)
        if len(summary.errors) > len(shown):
            click.echo(f"monitor: error: and {len(summary.errors) - len(shown)} more problem(s)", err=True)
        ctx.exit(1)
