"""The archive: SQLite catalogue (schema, transactions), GeoTIFF crops written atomically, the run lock."""

from __future__ import annotations

import multiprocessing
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

import monitor.archive.catalogue as catalogue_module
from monitor.archive import Catalogue, read_crop_file, run_lock, write_crop_file
from monitor.archive.crops import atomic_write_bytes, write_raster
from monitor.archive.records import SceneRecord, ScoreRecord
from monitor.errors import ArchiveError, LockedError, MonitorError
from monitor.scene import Scene

TRANSFORM = Affine(10.0, 0.0, 745880.0, 0.0, -10.0, 4322360.0)
CRS_UTM51 = CRS.from_epsg(32651)


def _scene_row(scene_id: str = "S2_20230115T021530", **extra: Any) -> SceneRecord:
    fields: dict[str, Any] = {"acquired": "2023-01-15T02:15:30+00:00", "status": "ok", **extra}
    return SceneRecord(site="s", scene_id=scene_id, source="local:imagery", sensor="S2", **fields)


def _score_row(scene_id: str = "S2_20230115T021530") -> ScoreRecord:
    return ScoreRecord(site="s", zone="z", scene_id=scene_id, acquired=None, sensor="S2", usable_fraction=1.0)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- the catalogue ------------------------------------------------------------------------------------


def test_a_new_catalogue_is_migrated(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Catalogue(data) as cat:
        assert cat.path == data / "catalogue.sqlite" and cat.path.is_file()
        assert cat.schema_version() == len(catalogue_module.MIGRATIONS)
        assert cat.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert cat.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert all(cat.has_table(t) for t in ("scenes", "baselines", "scores", "alerts", "outbox", "runs"))


def _traced_connect(statements: list[str]):  # type: ignore[no-untyped-def]
    connect = sqlite3.connect

    def traced(*args, **kwargs):  # type: ignore[no-untyped-def]
        db = connect(*args, **kwargs)
        db.set_trace_callback(statements.append)
        return db

    return traced


def test_reopening_does_not_migrate_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    statements: list[str] = []
    monkeypatch.setattr(catalogue_module.sqlite3, "connect", _traced_connect(statements))
    with Catalogue(tmp_path) as cat, cat.transaction():
        cat.upsert_scene(_scene_row())
    assert any("CREATE TABLE scenes" in s for s in statements)  # the trace sees the first migration
    statements.clear()
    with Catalogue(tmp_path) as cat:
        assert cat.schema_version() == len(catalogue_module.MIGRATIONS)
        assert cat.scene("s", "S2_20230115T021530") is not None
    with Catalogue(tmp_path, readonly=True) as cat:
        assert len(cat.scenes()) == 1
    assert statements and not any("CREATE" in s or "user_version =" in s for s in statements)


def test_migrations_run_forward_from_the_stored_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Catalogue(tmp_path) as cat, cat.transaction():
        cat.upsert_scene(_scene_row())
    extra = "CREATE TABLE notes (site TEXT NOT NULL, note TEXT NOT NULL)"
    monkeypatch.setattr(catalogue_module, "MIGRATIONS", (*catalogue_module.MIGRATIONS, extra))
    with Catalogue(tmp_path) as cat:
        assert cat.schema_version() == len(catalogue_module.MIGRATIONS)
        assert len(cat.scenes()) == 1  # the first migration did not run again
        assert cat.db.execute("SELECT COUNT(*) FROM notes").fetchone()[0] == 0


@pytest.mark.parametrize("readonly", [False, True])
def test_a_newer_schema_is_refused(tmp_path: Path, readonly: bool) -> None:
    Catalogue(tmp_path).close()
    db = sqlite3.connect(tmp_path / Catalogue.FILENAME)
    db.execute(f"PRAGMA user_version = {len(catalogue_module.MIGRATIONS) + 1}")
    db.commit()
    db.close()
    with pytest.raises(ArchiveError, match="newer") as info:
        Catalogue(tmp_path, readonly=readonly)
    assert isinstance(info.value, MonitorError) and isinstance(info.value, OSError)


def test_readonly_needs_an_archive(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="no archive"):
        Catalogue(tmp_path / "data", readonly=True)
    assert not (tmp_path / "data").exists()


def test_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    (tmp_path / Catalogue.FILENAME).write_bytes(b"not a database, just bytes" * 100)
    with pytest.raises(ArchiveError, match="cannot open"):
        Catalogue(tmp_path)


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    with Catalogue(tmp_path) as cat:
        with pytest.raises(RuntimeError, match="boom"), cat.transaction():
            cat.upsert_scene(_scene_row())
            cat.replace_scores("s", "S2_20230115T021530", [_score_row()])
            assert cat.scene("s", "S2_20230115T021530") is not None  # visible inside the transaction
            raise RuntimeError("boom")
        assert cat.scene("s", "S2_20230115T021530") is None and cat.scores() == []
        with cat.transaction():  # the connection is usable again
            cat.upsert_scene(_scene_row())
        assert cat.scene("s", "S2_20230115T021530") is not None


def test_a_committed_transaction_is_seen_by_another_connection(tmp_path: Path) -> None:
    with Catalogue(tmp_path) as cat, cat.transaction():
        cat.upsert_scene(_scene_row())
        cat.replace_scores("s", "S2_20230115T021530", [_score_row()])
    with Catalogue(tmp_path, readonly=True) as other:
        assert len(other.scenes()) == 1 and len(other.scores()) == 1


def test_upsert_scene_counts_attempts(tmp_path: Path) -> None:
    with Catalogue(tmp_path) as cat:
        for attempt in (1, 2, 3):
            with cat.transaction():
                cat.upsert_scene(_scene_row(status="failed", reason=f"try {attempt}", provenance={"n": attempt}))
            row = cat.scene("s", "S2_20230115T021530")
            assert row is not None and row.attempts == attempt and row.reason == f"try {attempt}"
            assert row.provenance == {"n": attempt}
        with cat.transaction():
            cat.upsert_scene(_scene_row("other"))
        assert cat.scene("s", "other").attempts == 1  # type: ignore[union-attr]
        assert len(cat.scenes()) == 2 and len(cat.scenes(status="failed")) == 1


def test_scenes_are_listed_oldest_first(tmp_path: Path) -> None:
    with Catalogue(tmp_path) as cat, cat.transaction():
        for day in (20, 5, 12):
            cat.upsert_scene(_scene_row(f"S2_202301{day:02d}", acquired=f"2023-01-{day:02d}T00:00:00+00:00"))
    with Catalogue(tmp_path) as cat:
        assert [r.scene_id for r in cat.scenes()] == ["S2_20230105", "S2_20230112", "S2_20230120"]


# Regression: upsert_scene used INSERT OR REPLACE, which deletes the old row and, with foreign keys on, cascades to
# every score row of the scene.
def test_upsert_scene_keeps_the_scene_scores(tmp_path: Path) -> None:
    with Catalogue(tmp_path) as cat:
        with cat.transaction():
            cat.upsert_scene(_scene_row())
            cat.replace_scores("s", "S2_20230115T021530", [_score_row()])
        with cat.transaction():
            cat.upsert_scene(_scene_row(scored=True))
        assert len(cat.scores()) == 1


# --- crops --------------------------------------------------------------------------------------------


def _scene(acquired: datetime | None = None, provenance: dict[str, object] | None = None) -> Scene:
    rng = np.random.default_rng(1)
    data = rng.uniform(0.01, 0.5, (4, 30, 40)).astype(np.float32)
    data[:, 3:5, 7:9] = np.nan
    scl = np.full((30, 40), 4, np.float32)
    scl[10:15] = 9
    scl[20:, 30:] = 6
    from monitor.sensors import clear_mask

    return Scene(
        scene_id="S2_20230115T021530",
        sensor="S2",
        acquired=acquired or datetime(2023, 1, 15, 2, 15, 30, tzinfo=UTC),
        bands=("B02", "B03", "B04", "B08"),
        data=data,
        valid=clear_mask(data, scl),
        transform=TRANSFORM,
        crs=CRS_UTM51,
        source="local:/imagery",
        aux={"SCL": scl},
        provenance=provenance
        if provenance is not None
        else {"checksum": "ab" * 32, "hrefs": ["/imagery/S2_20230115T021530.tif"], "SIMULATED": "yes", "n": 3},
    )


@pytest.mark.parametrize(
    "acquired",
    [
        datetime(2023, 1, 15, 2, 15, 30, tzinfo=UTC),
        datetime(2023, 1, 15, 11, 15, 30, tzinfo=timezone(timedelta(hours=9))),
    ],
    ids=["utc", "plus-nine"],
)
def test_crop_round_trip(tmp_path: Path, acquired: datetime) -> None:
    scene = _scene(acquired)
    path = write_crop_file(tmp_path / "crops" / "S2_20230115T021530.tif", scene)
    assert path.is_file() and _leftovers(path.parent) == []
    back = read_crop_file(path)
    assert back.scene_id == scene.scene_id and back.sensor == "S2" and back.source == scene.source
    assert back.bands == scene.bands and set(back.aux) == {"SCL"}
    np.testing.assert_array_equal(back.data, scene.data)  # NaN where NaN
    np.testing.assert_array_equal(back.aux["SCL"], scene.aux["SCL"])
    np.testing.assert_array_equal(back.valid, scene.valid)
    assert 0.3 < back.valid.mean() < 0.9
    assert back.acquired == acquired and back.acquired.tzinfo is not None and back.acquired.utcoffset() is not None
    assert dict(back.provenance) == dict(scene.provenance) and back.simulated
    assert back.transform == scene.transform and back.crs == scene.crs
    with rasterio.open(path) as src:
        assert src.descriptions == ("B02", "B03", "B04", "B08", "SCL") and src.dtypes[0] == "float32"


def test_crop_without_aux_layers(tmp_path: Path) -> None:
    base = _scene()
    scene = Scene(**{**base.__dict__, "aux": {}, "valid": np.all(np.isfinite(base.data), axis=0)})
    back = read_crop_file(write_crop_file(tmp_path / "c.tif", scene))
    assert dict(back.aux) == {} and back.bands == scene.bands
    np.testing.assert_array_equal(back.valid, scene.valid)


def test_reading_a_broken_crop(tmp_path: Path) -> None:
    path = tmp_path / "broken.tif"
    path.write_bytes(b"II*\x00garbage")
    with pytest.raises(ArchiveError, match=r"broken\.tif"):
        read_crop_file(path)


def test_write_raster_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "r.tif"
    for value in (1.0, 2.0):
        write_raster(path, np.full((1, 8, 8), value, np.float32), names=["x"], transform=TRANSFORM, crs=CRS_UTM51)
        with rasterio.open(path) as src:
            assert src.read(1).mean() == value and src.descriptions == ("x",)
    assert _leftovers(tmp_path) == []


def test_a_failed_rename_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "r.tif"
    write_raster(path, np.full((1, 8, 8), 1.0, np.float32), names=["x"], transform=TRANSFORM, crs=CRS_UTM51)
    before = path.read_bytes()

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("monitor.archive.files.os.replace", refuse)
    with pytest.raises(ArchiveError, match=r"r\.tif"):
        write_raster(path, np.full((1, 8, 8), 2.0, np.float32), names=["x"], transform=TRANSFORM, crs=CRS_UTM51)
    with pytest.raises(ArchiveError):
        atomic_write_bytes(tmp_path / "m.eml", b"payload")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == [] and not (tmp_path / "m.eml").exists()


def test_a_refused_dtype_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "r.tif"
    write_raster(path, np.full((1, 8, 8), 1.0, np.float32), names=["x"], transform=TRANSFORM, crs=CRS_UTM51)
    before = path.read_bytes()
    with pytest.raises(ArchiveError):
        write_raster(path, np.zeros((1, 8, 8), bool), names=["x"], transform=TRANSFORM, crs=CRS_UTM51)
    assert path.read_bytes() == before


# Regression: write_raster caught only RasterioError/OSError, so when rasterio raised TypeError (a dtype it refuses),
# ValueError (integer data with the default NaN nodata) or IndexError (more names than bands) the .tmp file stayed
# behind and the error escaped unwrapped.
@pytest.mark.parametrize(
    ("data", "names"),
    [
        (np.zeros((1, 8, 8), bool), ["x"]),
        (np.zeros((1, 8, 8), np.uint8), ["x"]),
        (np.zeros((1, 8, 8), np.float32), ["x", "y"]),
    ],
    ids=["bool", "uint8-with-nan-nodata", "too-many-names"],
)
def test_a_refused_write_leaves_no_temporary_file(tmp_path: Path, data: np.ndarray, names: list[str]) -> None:
    with pytest.raises(ArchiveError):
        write_raster(tmp_path / "r.tif", data, names=names, transform=TRANSFORM, crs=CRS_UTM51)
    assert _leftovers(tmp_path) == []


# --- the run lock -------------------------------------------------------------------------------------


def _try_lock(data: str, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Run in a child process: try to take the run lock once, report what happened."""
    try:
        with run_lock(Path(data)):
            results.put("acquired")
    except LockedError as exc:
        results.put(f"locked: {exc}")


def _try_lock_in_another_process(data: Path) -> str:
    """A forked child has its own lock file handle, as a second cron run would."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_try_lock, args=(str(data), results))
    child.start()
    child.join(timeout=30)
    assert child.exitcode == 0
    return str(results.get(timeout=5))


def test_run_lock_excludes_another_process(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with run_lock(data):
        assert (data / ".monitor.lock").exists()
        held = _try_lock_in_another_process(data)
        assert held.startswith("locked:") and str(data) in held
    assert _try_lock_in_another_process(data) == "acquired"


def test_run_lock_is_released_on_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), run_lock(tmp_path):
        raise RuntimeError("the run failed")
    with run_lock(tmp_path):
        pass


def test_run_lock_excludes_a_second_holder_in_the_same_process(tmp_path: Path) -> None:
    with run_lock(tmp_path), pytest.raises(LockedError), run_lock(tmp_path):
        pass  # pragma: no cover


def test_alerted_scenes_are_kept_out_of_a_new_baseline(tmp_path: Path) -> None:
    from monitor.archive.records import Alert
    from monitor.pipeline.baselines import alerted_scenes

    catalogue = Catalogue(tmp_path)
    with catalogue.transaction():
        for i, ids in enumerate((("a", "b"), ("c",))):
            catalogue.save_alert(Alert(f"id{i}", "s", "z", "crowd", "low", "resolved", "t", "t", ids, 0.6))
    assert alerted_scenes(catalogue, "s") == {"a", "b", "c"}
    assert alerted_scenes(catalogue, "other") == set()
    catalogue.close()
