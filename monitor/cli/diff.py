"""``monitor diff``: a bi-temporal change map of two images."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("diff")
@click.argument("before", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("after", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Change map GeoTIFF.")
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also a preview PNG.")
def command(before: Path, after: Path, out: Path, png: Path | None) -> None:
    """Bi-temporal change map of AFTER against BEFORE, on BEFORE's grid.

    The output is float32, one band, higher = more change, NaN where either image has no valid data;
    AFTER is warped onto BEFORE's grid when the grids differ.
    """
    from monitor.pipeline.diff import diff_images
    from monitor.render.changemap import render_change_map
    from monitor.render.evidence import credit_line

    for option, path in (("--out", out), ("--png", png)):
        if path is not None and not path.resolve().parent.is_dir():
            raise click.BadParameter(f"folder {path.parent} does not exist", param_hint=option)
    result = diff_images(before, after, out)
    click.echo(f"{out} ({', '.join(result.bands)}; {100 * result.valid_fraction:.1f}% valid)")
    if png is not None:
        credit = credit_line(result.simulated, result.year)
        render_change_map(png, result.change, f"change: {before.name} -> {after.name}", credit)
        click.echo(str(png))
