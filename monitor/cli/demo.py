"""``monitor demo``: the whole pipeline, offline, on a built-in simulated replay archive."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("monitor-demo"),
    show_default=True,
    help="Folder for the simulated imagery, the config and the archive.",
)
@click.pass_context
def command(ctx: click.Context, out: Path) -> None:
    """Simulate a Mirim-like site (quiet weeks, then rehearsals), run the real pipeline, show the results."""
    from monitor.demo import run_demo

    progress = ctx.obj["quiet"] == 0 and click.get_text_stream("stderr").isatty()
    result = run_demo(out, progress=progress)
    click.echo(result.describe())
