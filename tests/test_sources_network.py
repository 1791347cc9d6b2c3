"""Live services (marked ``network``; skipped by default, run with ``pytest -m network``).

Earth Search over Mirim for a fixed past month, one crop read; Copernicus Data Space when
``SH_CLIENT_ID`` / ``SH_CLIENT_SECRET`` are set.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import numpy as np
import pytest

from monitor.config import SiteConfig, SourceConfig
from monitor.grid import site_grid
from monitor.sources import make_source

pytestmark = pytest.mark.network

MIRIM = SiteConfig(id="mirim", bbox=(125.825, 39.005, 125.870, 39.035))
MONTH = (datetime(2023, 3, 1, tzinfo=UTC), datetime(2023, 3, 31, 23, 59, tzinfo=UTC))


def test_earth_search_finds_and_reads_mirim() -> None:
    source = make_source(SourceConfig(kind="earth-search"))
    refs = source.search(MIRIM, *MONTH)
    assert refs, "Earth Search lists no Sentinel-2 overpass over Mirim in March 2023"
    assert len({r.scene_id for r in refs}) == len(refs)  # one scene per overpass
    assert all(r.scene_id.startswith(("S2A_", "S2B_")) for r in refs)
    grid = site_grid(MIRIM)
    scene = source.read(refs[0], grid)
    assert scene.shape == grid.shape
    values = scene.band("B04")[np.isfinite(scene.band("B04"))]
    assert values.size and 0.0 <= float(np.median(values)) < 0.6  # harmonised reflectance, not DN


@pytest.mark.skipif(
    not (os.environ.get("SH_CLIENT_ID") and os.environ.get("SH_CLIENT_SECRET")),
    reason="SH_CLIENT_ID / SH_CLIENT_SECRET not set",
)
def test_copernicus_data_space_reads_mirim() -> None:
    source = make_source(SourceConfig(kind="sentinelhub", collections=["sentinel-2-l2a"]))
    refs = source.search(MIRIM, *MONTH)
    assert refs
    scene = source.read(refs[0], site_grid(MIRIM))
    assert scene.provenance["processing_units"] > 0
