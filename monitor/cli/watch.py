"""``monitor watch --every 6h``: ``monitor run`` in a loop, for users without cron."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from monitor.cli.options import config_option, every_option


@click.command("watch")
@config_option
@every_option(None)
@click.pass_context
def command(ctx: click.Context, config_path: Path | None, every: timedelta) -> None:
    """Run a pass now and then every INTERVAL until stopped (SIGINT or SIGTERM).

    A signal lets the running pass finish, then exits 0; a second signal aborts the pass. A pass that
    fails is logged and the loop goes on; while another run holds the lock, that pass is skipped with one
    line. Each pass prints what `monitor run` prints (with -q: only errors and new alerts).
    Exit codes: 0 stopped by a signal, 2 config error.
    """
    from monitor.cli.run import report
    from monitor.config import load_config
    from monitor.pipeline import run
    from monitor.pipeline.watch import stop_on_signals, watch

    config = load_config(config_path)
    quiet = ctx.obj["quiet"]
    progress = quiet == 0 and click.get_text_stream("stderr").isatty()
    with stop_on_signals() as stop:
        watch(
            lambda: run(config, progress=progress),
            every,
            stop,
            report=lambda summary: report(summary, config.data_dir, quiet),
        )
