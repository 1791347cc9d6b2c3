"""``monitor run``: one incremental, idempotent pass (the cron unit)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor.cli.options import config_option

if TYPE_CHECKING:
    from monitor.pipeline.summary import RunSummary


def report(summary: RunSummary, data_dir: Path, quiet: int) -> None:
    """Print what a pass did: the counts line (stderr; alerts and health changes were logged), or with
    ``-q`` only new alerts and health notices (stdout, one line each; errors were logged on stderr as they
    happened), so nothing at all when nothing happened."""
    from monitor.pipeline.console import quiet_lines, summary_line

    if quiet:
        for line in quiet_lines(summary):
            click.echo(line)
        return
    click.echo(summary_line(summary, data_dir), err=True)


@click.command("run")
@config_option
@click.pass_context
def command(ctx: click.Context, config_path: Path | None) -> None:
    """One incremental pass: fetch, score, alert, notify (the cron unit).

    Discovers new scenes, fetches each site's crop, scores every zone, raises or resolves alerts, renders
    their evidence and queues one message for the changes. A second run with nothing new does nothing.
    With -q it prints only errors and new alerts, one line each, and nothing when nothing happened.
    Exit codes: 0 success, 1 the run failed, 2 config error, 75 another run holds the lock.
    """
    from monitor.config import load_config
    from monitor.pipeline import run

    config = load_config(config_path)
    progress = ctx.obj["quiet"] == 0 and click.get_text_stream("stderr").isatty()
    summary = run(config, progress=progress)
    report(summary, config.data_dir, ctx.obj["quiet"])
    if summary.deadline_reached:
        click.echo(
            f"monitor: the run's deadline ({config.monitor.deadline:.0f} s) passed: {summary.deferred_scenes} scene(s) "
            "left for the next run",
            err=True,
        )
    if summary.errors and ctx.obj["quiet"]:
        from monitor.redact import redact

        for problem in summary.unlogged:  # the rest was already one (redacted) log line each on stderr
            click.echo(f"monitor: error: {redact(problem)}", err=True)
        ctx.exit(1)
    if summary.errors:
        shown = summary.errors[:10]
        from monitor.redact import redact

        for problem in shown:  # one line each (an unreachable source: one line per source, with the hint)
            click.echo(f"monitor: error: {redact(problem)}", err=True)
        if len(summary.errors) > len(shown):
            click.echo(f"monitor: error: and {len(summary.errors) - len(shown)} more problem(s)", err=True)
        ctx.exit(1)
