"""Scene crops and rasters of the archive as GeoTIFFs, written atomically (temporary name, then rename)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import RasterioError

from monitor.archive.files import atomic_path
from monitor.archive.space import explained, write_problem
from monitor.errors import ArchiveError
from monitor.scene import Scene
from monitor.sensors import clear_mask


def atomic_write_bytes(path: Path, payload: bytes) -> Path:
    """Write bytes to ``path`` atomically (see :func:`monitor.archive.files.atomic_path`)."""
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(payload)
    except OSError as exc:
        raise ArchiveError(explained(f"cannot write {path}: {exc}", path)) from exc
    return path


def write_raster(
    path: Path,
    data: np.ndarray,
    *,
    names: Sequence[str],
    transform: Affine,
    crs: CRS,
    tags: Mapping[str, str] | None = None,
    nodata: float | None = float("nan"),
) -> Path:
    """Write a (bands, rows, cols) array as a DEFLATE-compressed GeoTIFF (tiled when large), atomically.

    The file appears under its final name complete or not at all; any failure is an :class:`ArchiveError`.
    """
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "count": data.shape[0],
        "height": data.shape[1],
        "width": data.shape[2],
        "dtype": data.dtype.name,
        "crs": crs,
        "transform": transform,
        "compress": "deflate",
        "predictor": 3 if data.dtype.kind == "f" else 2,
        "nodata": nodata,
        "tiled": data.shape[1] >= 256 and data.shape[2] >= 256,
    }
    try:
        with atomic_path(path) as tmp:
            with rasterio.open(tmp, "w", **profile) as dst:
                dst.write(data)
                for i, name in enumerate(names, start=1):
                    dst.set_band_description(i, name)
                dst.update_tags(**(tags or {}))
            _check_written(tmp, data)
    except Exception as exc:  # rasterio raises TypeError/ValueError too: always an ArchiveError, never a tmp file
        raise ArchiveError(f"cannot write {path}: {exc}") from exc
    return path


def _check_written(tmp: Path, data: np.ndarray) -> None:
    """Read the file just written back and compare it with ``data``: GDAL reports a write that fails when
    the dataset is closed (libtiff flushing its last strips to a full disk: ``_tiffWriteProc: No space left
    on device``) on stderr only, and the file it leaves is short. Such a file must never be renamed into
    place. (Deflate is lossless, so the values come back bit for bit; the crops are a few hundred KB.)"""
    try:
        with rasterio.open(tmp) as src:
            back = src.read()
    except RasterioError as exc:
        raise ArchiveError(f"the file written is incomplete{_space_left(tmp)} ({exc})") from exc
    if back.shape != data.shape or not np.array_equal(back, data, equal_nan=data.dtype.kind == "f"):
        raise ArchiveError(f"the file written does not read back as written{_space_left(tmp)}")


def _space_left(path: Path) -> str:
    """``: <why writes fail there>`` (:func:`monitor.archive.space.write_problem`), or an empty string."""
    problem = write_problem(path)
    return f": {problem}" if problem else ""


def write_crop_file(path: Path, scene: Scene) -> Path:
    """Store a scene crop: its spectral bands then its auxiliary layers (e.g. SCL), float32, NaN nodata."""
    layers = [scene.data] + [layer[None].astype(np.float32) for layer in scene.aux.values()]
    names = list(scene.bands) + list(scene.aux)
    tags = {
        "SCENE_ID": scene.scene_id,
        "SENSOR": scene.sensor,
        "ACQUIRED": scene.acquired.isoformat(),
        "SOURCE": scene.source,
        "AUX_BANDS": ",".join(scene.aux),
        "PROVENANCE": json.dumps(dict(scene.provenance), sort_keys=True, default=str),
    }
    return write_raster(
        path, np.concatenate(layers, axis=0), names=names, transform=scene.transform, crs=scene.crs, tags=tags
    )


def read_crop_file(path: Path) -> Scene:
    """Load a crop written by :func:`write_crop_file` back into a :class:`Scene` (validity recomputed)."""
    try:
        with rasterio.open(path) as src:
            arr = src.read(out_dtype="float32")
            names = tuple(str(d) for d in src.descriptions)
            tags = src.tags()
            transform, crs = src.transform, src.crs
    except (RasterioError, OSError) as exc:
        raise ArchiveError(f"cannot read archived crop {path}: {exc}") from exc
    aux_names = [n for n in tags.get("AUX_BANDS", "").split(",") if n]
    spectral = [i for i, n in enumerate(names) if n not in aux_names]
    aux = {n: arr[names.index(n)] for n in aux_names}
    data = np.ascontiguousarray(arr[spectral])
    return Scene(
        scene_id=tags["SCENE_ID"],
        sensor=tags["SENSOR"],
        acquired=datetime.fromisoformat(tags["ACQUIRED"]),
        bands=tuple(names[i] for i in spectral),
        data=data,
        valid=clear_mask(data, aux.get("SCL")),
        transform=transform,
        crs=crs,
        source=tags.get("SOURCE", ""),
        aux=aux,
        provenance=json.loads(tags.get("PROVENANCE", "{}")),
    )
