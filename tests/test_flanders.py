"""End-to-end on the real Sentinel-2 / Sentinel-1 series of ../shared/data/worldcereal-flanders.

Quiet farmland: every date ingested, usable fractions exactly as the SCL band says, no alert.
Skipped cleanly when the shared data folder is absent.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio

from tests.conftest import SHARED_DATA, invoke, shared_data

pytestmark = pytest.mark.slow

FLANDERS = Path(__file__).resolve().parents[1] / "configs" / "flanders.toml"


def flanders_config(folder: Path, imagery: Path) -> Path:
    """configs/flanders.toml in ``folder``, reading ``imagery`` and archiving to ``folder/data``."""
    config = folder / "monitor.toml"
    text = FLANDERS.read_text().replace("../monitor-data/flanders", str(folder / "data"))
    config.write_text(text.replace("../../shared/data/worldcereal-flanders/s2", str(imagery)))
    return config


@pytest.fixture(scope="module")
def flanders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shared_data("worldcereal-flanders", "s2")
    folder = tmp_path_factory.mktemp("flanders")
    config = flanders_config(folder, SHARED_DATA / "worldcereal-flanders" / "s2")
    result = invoke("run", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return config


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_every_date_is_ingested(flanders: Path) -> None:
    scenes = _rows(invoke("scenes", "--config", str(flanders)).stdout)
    assert len(scenes) == 118
    assert {s["status"] for s in scenes} == {"ok"}
    assert scenes[0]["acquired"] == "2017-08-04T10:53:28+00:00"


def test_usable_fractions_are_the_scl_clear_share(flanders: Path) -> None:
    from monitor.config import load_config
    from monitor.grid import site_grid

    grid = site_grid(load_config(flanders).sites[0])
    scores = _rows(invoke("scores", "--config", str(flanders)).stdout)
    assert len(scores) == 118 * 2
    s2 = shared_data("worldcereal-flanders", "s2")
    checked = 0
    for row in scores[::7]:
        with rasterio.open(s2 / f"{row['scene_id']}.tif") as src:
            # the site grid is aligned with the file's 10 m grid: read the same window
            win = src.window(*grid.bounds)
            scl = src.read(5, window=win.round_offsets().round_lengths())
        clear = np.isin(scl, (4, 5, 6))
        mask = grid.zone_masks[row["zone"]]
        expected = float(clear[mask].mean())
        assert float(row["usable_fraction"]) == pytest.approx(expected, abs=1e-6), row["scene_id"]
        checked += 1
    assert checked > 30


def test_no_alert_on_quiet_farmland(flanders: Path) -> None:
    alerts = json.loads(invoke("alerts", "--config", str(flanders), "--format", "json").stdout)
    assert alerts == []
    scores = _rows(invoke("scores", "--config", str(flanders)).stdout)
    scored = [r for r in scores if r["crowd_score"]]
    assert len(scored) > 100
    assert max(float(r["crowd_score"]) for r in scored) < 0.5
    assert max(float(r["vehicle_score"]) for r in scored) < 0.5


def test_second_run_changes_nothing(flanders: Path) -> None:
    before = [invoke(c, "--config", str(flanders), "--format", "json").stdout for c in ("scores", "alerts", "scenes")]
    again = invoke("run", "--config", str(flanders))
    assert again.returncode == 0 and "0 new scene(s)" in again.stderr
    after = [invoke(c, "--config", str(flanders), "--format", "json").stdout for c in ("scores", "alerts", "scenes")]
    assert before == after


def test_sentinel1_20m_scenes_are_warped_and_scored_in_db(tmp_path: Path) -> None:
    s1 = shared_data("worldcereal-flanders", "s1")
    imagery = tmp_path / "s1"
    imagery.mkdir()
    for path in sorted(s1.glob("S1_*.tif"))[:24]:
        shutil.copy(path, imagery / path.name)
    config = flanders_config(tmp_path, imagery)
    result = invoke("run", "--config", str(config))
    assert result.returncode == 0, result.stderr
    scores = _rows(invoke("scores", "--config", str(config)).stdout)
    assert {r["sensor"] for r in scores} == {"S1"}
    assert all(float(r["usable_fraction"]) > 0.99 for r in scores)  # radar sees through clouds
    scored = [r for r in scores if r["state"] == "scored"]
    assert len(scored) == 2 * 24  # baseline from the first 10, then every scene scored
    assert json.loads(invoke("alerts", "--config", str(config), "--format", "json").stdout) == []
    from monitor.archive import read_crop_file

    crop = read_crop_file(next((tmp_path / "data" / "crops" / "flanders").glob("*.tif")))
    assert crop.bands == ("VV", "VH") and crop.transform.a == 10.0
    values = crop.data[np.isfinite(crop.data)]
    assert 1e-4 < float(np.median(values)) < 1.0  # linear sigma0, not dB
