"""Archive rasters -> xarray objects on the site grid, georeferenced with rioxarray.

Dimensions are ``(band, y, x)`` or ``(y, x)``; ``x`` and ``y`` are pixel-centre coordinates in the
site's UTM CRS (metres, ``y`` decreasing downwards); the CRS and transform are written the CF way by
rioxarray (a ``spatial_ref`` coordinate holding ``crs_wkt`` and ``GeoTransform``), so ``da.rio.crs``,
``da.rio.reproject`` and ``da.rio.to_raster`` work, and tools that read CF metadata find the CRS even
without rioxarray.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from rasterio.crs import CRS

from monitor.detect.baseline import Baseline
from monitor.detect.scoring import SceneChange
from monitor.scene import Scene
from monitor.sensors import is_radar


def grid_coords(transform: Affine, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Pixel-centre ``y`` and ``x`` coordinates (CRS units) of a north-up grid of ``shape`` (rows, cols)."""
    rows, cols = shape
    x = transform.c + (np.arange(cols) + 0.5) * transform.a
    y = transform.f + (np.arange(rows) + 0.5) * transform.e
    return {"y": y, "x": x}


def georeference(obj: Any, transform: Affine, crs: CRS) -> Any:
    """Attach CRS and transform to a DataArray or Dataset (rioxarray's CF ``spatial_ref`` coordinate)."""
    obj = obj.rio.write_crs(crs.to_wkt())
    obj = obj.rio.write_transform(transform)
    obj.x.attrs.update(units="metre", long_name="easting (pixel centre)")
    obj.y.attrs.update(units="metre", long_name="northing (pixel centre)")
    return obj


def utc_naive(moment: datetime) -> np.datetime64:
    """An aware datetime as a numpy datetime64 in UTC (numpy and xarray hold no timezone)."""
    return np.datetime64(moment.astimezone(UTC).replace(tzinfo=None), "ns")


def scene_array(scene: Scene, site: str) -> xr.DataArray:
    """One archived scene as a ``(band, y, x)`` float32 DataArray.

    Values are physical units (surface reflectance 0..1 for optical, linear sigma0 for radar), NaN where
    the sensor gave none. Non-dimension coordinates: ``time`` (acquisition, UTC), ``valid`` (y, x; clear
    and valid, e.g. SCL 4/5/6 for Sentinel-2) and each auxiliary layer (e.g. ``SCL``).
    """
    coords: dict[str, Any] = {"band": list(scene.bands), **grid_coords(scene.transform, scene.shape)}
    coords["time"] = utc_naive(scene.acquired)
    coords["valid"] = (("y", "x"), scene.valid)
    for name, layer in scene.aux.items():
        coords[name] = (("y", "x"), layer)
    radar = is_radar(scene.sensor, scene.bands)
    da = xr.DataArray(
        scene.data,
        dims=("band", "y", "x"),
        coords=coords,
        name="sigma0" if radar else "reflectance",
        attrs={
            "site": site,
            "scene_id": scene.scene_id,
            "sensor": scene.sensor,
            "acquired": scene.acquired.isoformat(),
            "source": scene.source,
            "simulated": int(scene.simulated),
            "units": "linear sigma0" if radar else "surface reflectance (0..1)",
        },
    )
    da["time"].attrs["timezone"] = "UTC"
    return georeference(da, scene.transform, scene.crs)


def baseline_dataset(baseline: Baseline, transform: Affine, crs: CRS, site: str) -> xr.Dataset:
    """A baseline as a Dataset: ``median`` and ``sigma`` (band, y, x) in analysis units (reflectance for
    optical, dB for radar), ``count`` (y, x) observations per pixel, ``valid`` (y, x) enough observations."""
    coords = {"band": list(baseline.bands), **grid_coords(transform, baseline.count.shape)}
    ds = xr.Dataset(
        {
            "median": (("band", "y", "x"), baseline.median),
            "sigma": (("band", "y", "x"), baseline.sigma),
            "count": (("y", "x"), baseline.count),
            "valid": (("y", "x"), baseline.valid),
        },
        coords=coords,
        attrs={
            "site": site,
            "sensor": baseline.sensor,
            "version": baseline.version,
            "scene_ids": ",".join(baseline.scene_ids),
            "min_observations": baseline.min_observations,
        },
    )
    ds["sigma"].attrs["long_name"] = "robust spread, 1.4826 x MAD"
    return georeference(ds, transform, crs)


def change_dataset(
    change: SceneChange, masks: Mapping[str, np.ndarray], transform: Affine, crs: CRS, attrs: Mapping[str, Any]
) -> xr.Dataset:
    """A scene's change against its baseline: per pixel ``statistic`` (chi-square, higher = more change,
    NaN where not compared), ``significant`` and ``compared``; per zone ``zone_mask`` and the zone scores."""
    zones = [z.zone for z in change.zones]
    shape = change.statistic.shape

    def per_zone(name: str) -> np.ndarray:
        values = [getattr(z, name) for z in change.zones]
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    ds = xr.Dataset(
        {
            "statistic": (("y", "x"), change.statistic),
            "significant": (("y", "x"), change.significant),
            "compared": (("y", "x"), change.compared),
            "zone_mask": (("zone", "y", "x"), np.stack([masks[z] for z in zones]) if zones else np.zeros((0, *shape))),
            "usable_fraction": (("zone",), per_zone("usable_fraction")),
            "change_fraction": (("zone",), per_zone("change_fraction")),
            "crowd_score": (("zone",), per_zone("crowd_score")),
            "vehicle_score": (("zone",), per_zone("vehicle_score")),
            "detections": (("zone",), np.array([len(z.detections) for z in change.zones], dtype=np.int64)),
        },
        coords={"zone": zones, **grid_coords(transform, shape)},
        attrs={"threshold": change.threshold, **attrs},
    )
    ds["statistic"].attrs["long_name"] = "sum over bands of squared robust z (chi-square)"
    return georeference(ds, transform, crs)
