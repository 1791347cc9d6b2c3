"""The ``local`` source: a folder of GeoTIFFs named by acquisition time, or a static STAC catalog."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.config import SiteConfig, SourceConfig
from monitor.errors import SceneError, SourceError
from monitor.grid import SiteGrid
from monitor.scene import Scene
from monitor.sensors import nodata_of, sensor_from_prefix
from monitor.sources.base import BandAsset, SceneRef, parse_utc, printable
from monitor.sources.raster import band_descriptions, read_crop, to_scene

log = logging.getLogger(__name__)

_TIME_PATTERNS = (
    (re.compile(r"(?<!\d)(\d{8})T(\d{6})(?!\d)"), "%Y%m%d%H%M%S"),
    (re.compile(r"(?<!\d)(\d{8})_(\d{6})(?!\d)"), "%Y%m%d%H%M%S"),
    (re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)"), "%Y-%m-%d"),
)
#: STAC asset keys (Earth Search, Planetary Computer) mapped to the monitor's band names.
STAC_BAND_KEYS = {
    "blue": "B02",
    "green": "B03",
    "red": "B04",
    "nir": "B08",
    "swir16": "B11",
    "swir22": "B12",
    "scl": "SCL",
    "vv": "VV",
    "vh": "VH",
    **{b: b for b in ("B02", "B03", "B04", "B08", "B11", "B12", "SCL", "VV", "VH")},
}


def time_from_name(name: str) -> datetime | None:
    """Acquisition time (UTC) from a file name: ``YYYYMMDDTHHMMSS``, ``YYYYMMDD_HHMMSS`` or ``YYYY-MM-DD``."""
    for pattern, fmt in _TIME_PATTERNS:
        match = pattern.search(name)
        if match:
            try:
                return datetime.strptime("".join(match.groups()).replace("-", ""), fmt.replace("-", "")).replace(
                    tzinfo=UTC
                )
            except ValueError:
                return None
    return None


def named_as_imagery(name: str) -> bool:
    """Whether a file name claims to be an acquisition: it holds a timestamp pattern (even an invalid one,
    such as ``20231345T...``) or starts with a sensor prefix (``S2_``, ``PS_``). ``notes.tif`` or
    ``mask.tif`` beside the imagery claim neither and are skipped rather than recorded as failed scenes."""
    return (
        any(pattern.search(name) for pattern, _ in _TIME_PATTERNS)
        or re.match(r"^[A-Za-z][A-Za-z0-9]*_", name) is not None
    )


def file_checksum(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _in_range(t: datetime | None, start: datetime | None, end: datetime | None) -> bool:
    if t is None:
        return True
    return (start is None or t >= start) and (end is None or t <= end)


class LocalSource:
    """Scenes from a folder of GeoTIFFs (one per acquisition) or a static STAC ``catalog.json``."""

    def __init__(self, config: SourceConfig) -> None:
        if config.path is None:
            raise SourceError("a local source needs a path")
        self.path = Path(config.path)
        self.name = config.name

    def search(self, site: SiteConfig, start: datetime | None, end: datetime | None) -> list[SceneRef]:
        """Every file (or STAC item) acquired in [start, end]; footprints are checked when read."""
        if self.path.is_file() and self.path.suffix == ".json":
            refs = self._stac_refs()
        elif self.path.is_dir():
            refs = self._folder_refs()
        else:
            raise SourceError(f"{self.path}: not a folder of GeoTIFFs nor a STAC catalog.json")
        refs = [r for r in refs if _in_range(r.acquired, start, end)]
        return sorted(refs, key=lambda r: (r.acquired or datetime.min.replace(tzinfo=UTC), r.scene_id))

    def _folder_refs(self) -> list[SceneRef]:
        refs = []
        files = sorted(p for p in self.path.rglob("*") if p.suffix.lower() in {".tif", ".tiff"} and p.is_file())
        first_seen: dict[str, Path] = {}
        for path in files:
            scene_id = printable(path.stem)
            acquired = time_from_name(scene_id)
            if not named_as_imagery(scene_id):
                log.debug("%s: not imagery by its name (no acquisition time, no sensor prefix): skipped", path)
                continue
            problem = None
            if scene_id != path.stem:
                problem = f"file name {printable(path.name)!r} is not valid UTF-8: rename the file"
            elif acquired is None:
                problem = (
                    f"no acquisition time in file name {path.name!r} (expected YYYYMMDDTHHMMSS, "
                    "YYYYMMDD_HHMMSS or YYYY-MM-DD)"
                )
            elif scene_id in first_seen:
                problem = f"{path} has the same scene id as {first_seen[scene_id]}: scene ids must be unique"
                digest = hashlib.sha256(str(path.relative_to(self.path)).encode("utf-8", "surrogateescape"))
                scene_id = f"{scene_id}__duplicate-{digest.hexdigest()[:8]}"
            first_seen.setdefault(scene_id, path)
            refs.append(
                SceneRef(
                    scene_id=scene_id,
                    source=self.name,
                    acquired=acquired,
                    sensor=sensor_from_prefix(scene_id),
                    assets=(BandAsset(name="*", href=str(path)),),
                    problem=problem,
                )
            )
        return refs

    def _stac_refs(self) -> list[SceneRef]:
        import pystac

        try:
            catalog = pystac.Catalog.from_file(str(self.path))
            items = list(catalog.get_items(recursive=True))
        except Exception as exc:  # pystac raises many types for a broken catalog
            raise SourceError(f"{self.path}: cannot read STAC catalog: {exc}") from exc
        return [self._item_ref(item) for item in items]

    def _item_ref(self, item: Any) -> SceneRef:
        props = item.properties
        platform = str(props.get("platform") or props.get("constellation") or "").lower()
        sensor = "S2" if "sentinel-2" in platform else "S1" if "sentinel-1" in platform else sensor_from_prefix(item.id)
        assets = []
        for key, asset in item.assets.items():
            band = STAC_BAND_KEYS.get(key)
            if band is not None:
                assets.append(BandAsset(name=band, href=asset.get_absolute_href() or asset.href))
        if not assets:
            data = [a for a in item.assets.values() if "data" in (a.roles or [])]
            if len(data) == 1:
                assets.append(BandAsset(name="*", href=data[0].get_absolute_href() or data[0].href))
        problem = None if assets else f"STAC item {item.id} has no band assets the monitor knows"
        if item.datetime is None and parse_utc(props.get("start_datetime")) is None:
            problem = f"STAC item {item.id} has neither datetime nor start_datetime"
        return SceneRef(
            scene_id=item.id,
            source=self.name,
            acquired=item.datetime or parse_utc(props.get("start_datetime")),
            sensor=sensor,
            assets=tuple(assets),
            problem=problem,
            properties={"stac_item": item.id},
        )

    def read(self, ref: SceneRef, grid: SiteGrid) -> Scene:
        """The scene's crop on ``grid``; bands named by the GeoTIFF band descriptions."""
        if ref.problem:
            raise SceneError(ref.problem)
        assets = list(ref.assets)
        if len(assets) == 1 and assets[0].name == "*":
            href = assets[0].href
            names = band_descriptions(href)
            if not names or any(not n for n in names):
                raise SceneError(
                    f"{Path(href).name}: every band needs a description naming it (B02 B03 B04 B08 SCL, VV VH); "
                    f"found {list(names)}"
                )
            assets = [
                BandAsset(name=str(n), href=href, index=i + 1, nodata=nodata_of(ref.sensor, str(n)))
                for i, n in enumerate(names)
            ]
        else:
            assets = [BandAsset(a.name, a.href, a.index, nodata_of(ref.sensor, a.name)) for a in assets]
        crop = read_crop(assets, grid)
        scene = to_scene(ref, crop, grid)
        checksums = {a.href: file_checksum(Path(a.href)) for a in assets if Path(a.href).is_file()}
        provenance = dict(scene.provenance)
        provenance["checksum"] = hashlib.sha256("".join(sorted(checksums.values())).encode()).hexdigest()
        return Scene(**{**scene.__dict__, "provenance": provenance})
