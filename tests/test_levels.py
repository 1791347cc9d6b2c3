"""A scene whose whole level is one BOA offset off its baseline (Earth Search's wrong
``boa_offset_applied`` flag, element84/earth-search issues 66 and 71) is found and harmonised:
``detect.levels`` on synthetic rasters, then the whole pipeline against the local Earth Search server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from monitor.archive.catalogue import Catalogue
from monitor.config import load_config
from monitor.detect.levels import BOA_OFFSET, harmonised, offset_jump
from monitor.pipeline.run import run
from monitor.sources import harmonise
from monitor.sources.stac import StacSource
from tests.conftest import write_config
from tests.servers.world import World, serve_world

CONCRETE = np.array([0.21, 0.23, 0.25, 0.28], dtype=np.float32)
ASPHALT = np.array([0.065, 0.075, 0.085, 0.10], dtype=np.float32)


def _ground() -> np.ndarray:
    ground = np.broadcast_to(CONCRETE[:, None, None], (4, 60, 60)).astype(np.float32).copy()
    ground[:, :, :30] = ASPHALT[:, None, None]  # dark and bright ground: an offset moves both alike
    return ground


def test_a_scene_a_whole_offset_off_is_found() -> None:
    rng = np.random.default_rng(3)
    base = (_ground() + rng.normal(0, 0.005, (4, 60, 60))).astype(np.float32)
    everywhere = np.ones((60, 60), dtype=bool)
    assert offset_jump(base + BOA_OFFSET, base, everywhere) == BOA_OFFSET
    assert offset_jump(base - BOA_OFFSET, base, everywhere) == -BOA_OFFSET
    assert offset_jump(base, base, everywhere) is None
    # haze: +0.1 in the blue, far less in the near-infrared: not an offset
    hazy = base + np.array([0.10, 0.07, 0.05, 0.02], dtype=np.float32)[:, None, None]
    assert offset_jump(hazy, base, everywhere) is None
    # a brighter season or sun (gain 1.4) moves each band by its reflectance: not an offset either
    assert offset_jump(base * 1.4, base, everywhere) is None
    # a new slab over a third of the site, bright in every band: the dark ground did not move
    slab = base.copy()
    slab[:, :, 40:] += 0.1
    assert offset_jump(slab, base, everywhere) is None
    assert offset_jump(base + BOA_OFFSET, base, np.zeros((60, 60), dtype=bool)) is None  # nothing to judge


def test_harmonised_takes_the_level_off() -> None:
    base = _ground()
    assert np.allclose(harmonised(base + BOA_OFFSET, BOA_OFFSET), base, atol=1e-6)
    clipped = np.maximum(base - 0.08, 0.0).astype(np.float32)  # removed twice: the darkest clipped at 0
    fixed = harmonised(clipped, -BOA_OFFSET)
    assert np.isnan(fixed[clipped <= 0]).all()
    assert np.allclose(fixed[clipped > 0], (clipped + BOA_OFFSET)[clipped > 0], atol=1e-6)
    assert harmonise.level_corrected(BOA_OFFSET) == harmonise.LEVEL_REMOVED
    assert harmonise.level_corrected(-BOA_OFFSET) == harmonise.LEVEL_RESTORED


# --- the pipeline against the local Earth Search server (pystac-client and GDAL over HTTP) -------------


@pytest.fixture
def stac_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    from monitor.sources.retry import RetryPolicy

    monkeypatch.setattr(StacSource, "default_retry", RetryPolicy(attempts=3, backoff=0.05, max_wait=0.2))
    monkeypatch.setattr(
        StacSource,
        "default_gdal_options",
        {"GDAL_HTTP_RETRY_DELAY": "0.1", "GDAL_HTTP_TIMEOUT": "2", "GDAL_HTTP_CONNECTTIMEOUT": "2"},
    )
    with serve_world() as world:
        yield world


def test_an_item_whose_offset_flag_is_wrong_is_harmonised_by_its_level(tmp_path: Path, stac_world: World) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    for i in range(8):  # warm-up (6) and two more, each with its flag right
        stac_world.add_scene(now - timedelta(days=60 - 5 * i), tiles=("51SYD", "52SBJ"))
    # the provider says it removed the offset, and did not: the scene sits 0.1 above every other
    wrong = now - timedelta(days=15)
    stac_world.add_scene(wrong, tiles=("51SYD", "52SBJ"), offset=1000, offset_applied=True)
    path = write_config(tmp_path)
    path.write_text(
        path.read_text().replace(
            '[[sources]]\nkind = "local"\npath = "imagery"',
            f'[[sources]]\nkind = "earth-search"\nurl = "{stac_world.stac.url}"',
        )
    )
    config = load_config(path)
    summary = run(config)
    assert summary.new_scenes == 9 and not summary.errors
    with Catalogue(config.data_dir, readonly=True) as cat:
        scenes = {r.acquired_at: r for r in cat.scenes()}
        flagged = [r for r in scenes.values() if r.harmonisation == harmonise.LEVEL_REMOVED]
        assert len(flagged) == 1 and flagged[0].acquired_at == wrong
        assert {r.harmonisation for r in scenes.values() if r is not flagged[0]} == {harmonise.REMOVED}
        rows = [s for s in cat.scores() if s.scene_id == flagged[0].scene_id]
        # compared like any other scene (without the check it would be 'hazy': its blue 0.1 up), and quiet
        assert rows and {s.state for s in rows} == {"scored"}
        assert all((s.crowd_score or 0.0) < 0.1 and (s.vehicle_score or 0.0) < 0.1 for s in rows)
        assert not cat.alerts()
