"""``monitor sites``: the configured sites and zones (kind, area, grid); GeoJSON for QGIS; a map to check them."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.options import config_option, selection, site_option


@click.command("sites")
@config_option
@site_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "geojson"]),
    default="text",
    show_default=True,
    help="Output format on stdout; geojson: the sites and zones as RFC 7946 features (open in QGIS).",
)
@click.option(
    "--map",
    "map_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also draw each site's zones over its latest clear scene into this PNG (one site: this file; "
    "several: SITE-<id> is added before the suffix).",
)
def command(config_path: Path | None, site: str | None, fmt: str, map_path: Path | None) -> None:
    """Print the configured sites and zones: kind, geodesic area, scored pixels, WGS84 bounds, and each
    site's analysis grid (CRS, size, pixel size). Reads the config only (and the archive for --map)."""
    from monitor.config import load_config
    from monitor.report.sites import describe, to_geojson, to_json, to_text

    config = load_config(config_path)
    chosen = selection(config, site=site)
    sites = describe(config, chosen.site)
    text = {"text": to_text, "json": to_json}.get(fmt)
    click.echo(text(sites) if text else to_geojson(config, sites), nl=False)
    if map_path is None:
        return
    from monitor.pipeline.sitemap import draw_site_map

    if not map_path.parent.is_dir():
        raise click.BadParameter(f"folder {map_path.parent} does not exist", param_hint="--map")
    for info in sites:
        out = map_path if len(sites) == 1 else map_path.with_name(f"{map_path.stem}-{info.id}{map_path.suffix}")
        result = draw_site_map(config, info.id, out)
        under = f"over {result.scene_id}" if result.scene_id else "on an empty grid (no scene in the archive)"
        click.echo(f"map of {info.id} {under}: {result.path}", err=True)
