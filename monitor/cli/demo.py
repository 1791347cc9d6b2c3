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
    """Run the whole pipeline offline on a simulated site.

    Renders a Mirim-like training ground (quiet weeks, then rehearsals and a vehicle park, some cloudy
    dates), runs the real pipeline on it and prints where the alerts, scores and pictures are. Every
    output is labelled as simulated. The config is left at OUT/config.toml for the other commands.
    """
    from monitor.pipeline.demo import run_demo

    progress = ctx.obj["quiet"] == 0 and click.get_text_stream("stderr").isatty()
    try:
        result = run_demo(out, progress=progress)
    except FileExistsError as exc:
        raise click.BadParameter(f"{exc}; choose an empty folder", param_hint="--out") from None
    click.echo(result.describe())
