"""COGs shaped like the real Sentinel-2 L2A ones (tiled, DEFLATE, overviews), built with rasterio in memory."""

from __future__ import annotations

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.io import MemoryFile


def cog_bytes(
    data: np.ndarray,
    *,
    crs: str,
    transform: Affine,
    nodata: float | None = 0,
    blocksize: int = 512,
    overviews: bool = True,
) -> bytes:
    """A single-band COG (GDAL's COG driver: header first, tiled ``blocksize``, DEFLATE) of ``data``."""
    with MemoryFile() as mem:
        profile = {
            "driver": "GTiff",
            "width": data.shape[1],
            "height": data.shape[0],
            "count": 1,
            "dtype": data.dtype.name,
            "crs": crs,
            "transform": transform,
            "nodata": nodata,
        }
        with mem.open(**profile) as tmp:
            tmp.write(data, 1)
        with mem.open() as src, MemoryFile() as out:
            rasterio.shutil.copy(
                src,
                out.name,
                driver="COG",
                BLOCKSIZE=blocksize,
                COMPRESS="DEFLATE",
                OVERVIEWS="AUTO" if overviews else "NONE",
            )
            return bytes(out.read())


def s2_tile(
    *,
    crs: str,
    left: float,
    top: float,
    width_px: int,
    height_px: int,
    reflectance: dict[str, float],
    offset: int = 1000,
    scl: int = 4,
    seed: int = 0,
    blocksize: int = 512,
) -> dict[str, bytes]:
    """One Sentinel-2 L2A tile's band COGs: 10 m uint16 bands (DN = reflectance x 1e4 + ``offset``, a
    little noise) and a 20 m uint8 SCL of class ``scl``; keyed by band name."""
    rng = np.random.default_rng(seed)
    out = {}
    t10 = Affine(10.0, 0.0, left, 0.0, -10.0, top)
    for band, value in reflectance.items():
        dn = value * 10000 + offset + rng.normal(0, 5, (height_px, width_px))
        out[band] = cog_bytes(np.clip(dn, 1, 65535).astype(np.uint16), crs=crs, transform=t10, blocksize=blocksize)
    t20 = Affine(20.0, 0.0, left, 0.0, -20.0, top)
    classes = np.full((height_px // 2, width_px // 2), scl, np.uint8)
    out["SCL"] = cog_bytes(classes, crs=crs, transform=t20, blocksize=blocksize)
    return out


def byte_floor(payload: bytes, grid: object) -> tuple[int, int]:
    """(header bytes, compressed bytes of the full-resolution blocks a site grid's window touches) of a COG.

    The header is everything before the first block of data (IFDs, tile offsets, ghost area); the floor
    of a windowed read is their sum: no client can read the window with fewer bytes.
    """
    from monitor.sources.raster import _source_window

    with MemoryFile(payload) as mem, mem.open() as src:
        win = _source_window(src, grid)  # type: ignore[arg-type]
        bh, bw = src.block_shapes[0]
        offsets = []
        touched = 0
        for row in range(src.height // bh + (src.height % bh > 0)):
            for col in range(src.width // bw + (src.width % bw > 0)):
                offset = int(src.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=1) or 0)
                size = int(src.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=1) or 0)
                offsets.append(offset)
                if win is not None and (
                    col * bw < win.col_off + win.width
                    and (col + 1) * bw > win.col_off
                    and row * bh < win.row_off + win.height
                    and (row + 1) * bh > win.row_off
                ):
                    touched += size
        levels = len(src.overviews(1))
    header = min(o for o in offsets if o > 0)
    for level in range(levels):  # overview blocks come before the full-resolution ones in a COG
        with MemoryFile(payload) as mem, mem.open(overview_level=level) as ovr:
            first = ovr.get_tag_item("BLOCK_OFFSET_0_0", "TIFF", bidx=1)
            if first:
                header = min(header, int(first))
    return header, touched
