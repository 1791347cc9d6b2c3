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
    """Change of AFTER against BEFORE: float32, one band, on BEFORE's grid, higher = more change."""
    from monitor.diff import diff_images
    from monitor.render.changemap import render_change_map

    result = diff_images(before, after, out)
    if png is not None:
        render_change_map(png, result.change, f"change: {before.name} -> {after.name}")
    click.echo(f"{out} ({', '.join(result.bands)}; {100 * result.valid_fraction:.1f}% valid)")
