"""The analysis API (monitor.open), the parade table, `monitor evaluate`, and the notebooks, on the demo archive."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import ROOT, DemoBuild, invoke

pd = pytest.importorskip("pandas")
xr = pytest.importorskip("xarray")

PARADES = ROOT / "configs" / "parades.csv"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="session")
def demo_dir(demo_archive: DemoBuild) -> Path:
    """The demo archive, built once per session and shared by every worker (tests/conftest.py)."""
    return demo_archive.out


@pytest.fixture
def m(demo_dir: Path):  # type: ignore[no-untyped-def]
    import monitor

    return monitor.open(demo_dir)


def _is_utc(dtype: object) -> bool:
    return isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC"


# -- import cost ----------------------------------------------------------------------------------------


def test_import_monitor_loads_no_heavy_library() -> None:
    heavy = "('pandas', 'xarray', 'matplotlib', 'numpy', 'rasterio')"
    code = f"import sys, monitor; print(sorted(m for m in {heavy} if m in sys.modules))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"


# -- tables ---------------------------------------------------------------------------------------------


def test_tables_have_contract_columns_and_utc_timestamps(m) -> None:  # type: ignore[no-untyped-def]
    sites = m.sites
    assert list(sites["site"]) == ["mirim"]
    assert sites.loc[0, "scenes"] == 31 and sites.loc[0, "alerts"] >= 1
    scenes = m.scenes(site="mirim")
    assert len(scenes) == 31 and _is_utc(scenes["acquired"].dtype)
    assert scenes["acquired"].is_monotonic_increasing and scenes["simulated"].all()
    scores = m.scores(site="mirim")
    assert scores["simulated"].dtype == bool and scores["simulated"].all()  # the demo's every row says so
    assert m.alerts()["simulated"].all()
    for column in (
        "site",
        "zone",
        "scene_id",
        "acquired",
        "sensor",
        "usable_fraction",
        "change_fraction",
        "crowd_score",
        "vehicle_score",
    ):
        assert column in scores.columns
    assert _is_utc(scores["acquired"].dtype)
    assert scores["crowd_score"].dtype == "float64" and scores["usable"].dtype == bool
    assert len(scores) == 31 * 3
    # cloudy observations are not usable; usable ones were scored
    assert scores.loc[scores["usable"], "change_fraction"].notna().all()
    assert (~scores["usable"]).any()
    one_zone = m.scores(site="mirim", zone="replica-square")
    assert set(one_zone["zone"].astype(str)) == {"replica-square"}
    alerts = m.alerts()
    assert _is_utc(alerts["first_seen"].dtype) and _is_utc(alerts["resolved_at"].dtype)
    assert alerts["level"].cat.ordered and list(alerts["level"].cat.categories) == ["low", "medium", "high"]
    assert (alerts["n_scenes"] == alerts["scene_ids"].map(len)).all()
    assert len(m.alerts(status="firing")) + len(m.alerts(status="resolved")) == len(alerts)


def test_tables_of_an_empty_archive_keep_their_dtypes(tmp_path: Path) -> None:
    from monitor.analysis.frames import ALERT_DTYPES, SCORE_DTYPES, typed_frame

    alerts = typed_frame([], ALERT_DTYPES)
    scores = typed_frame([], SCORE_DTYPES)
    assert list(alerts.columns) == list(ALERT_DTYPES) and _is_utc(alerts["first_seen"].dtype)
    assert _is_utc(scores["acquired"].dtype) and scores["crowd_score"].dtype == "float64"


def test_open_a_bare_data_dir_and_errors(m, demo_dir: Path) -> None:  # type: ignore[no-untyped-def]
    import monitor

    by_config = monitor.open(demo_dir / "config.toml")
    assert by_config.data_dir == m.data_dir
    with pytest.raises(monitor.ArchiveError, match="no archive at"):
        monitor.open(demo_dir / "config.toml", data_dir=demo_dir / "elsewhere")
    with pytest.raises(monitor.ConfigError, match="not found"):
        monitor.open(demo_dir / "missing.toml")
    bare = monitor.open(demo_dir / "monitor-data")
    assert bare.site_ids() == ["mirim"] and len(bare.scores()) == len(m.scores())
    with pytest.raises(monitor.ArchiveError, match="neither"):
        monitor.open(demo_dir / "imagery")
    with pytest.raises(monitor.ConfigError, match="no site 'nowhere'"):
        m.scores(site="nowhere")
    with pytest.raises(monitor.ArchiveError, match="no scene 'S2_nope'"):
        m.scene("mirim", "S2_nope")


# -- rasters --------------------------------------------------------------------------------------------


def test_scene_baseline_and_change_are_georeferenced(m) -> None:  # type: ignore[no-untyped-def]
    alert = m.alerts().iloc[0]
    scene_id = alert["scene_ids"][0]
    da = m.scene("mirim", scene_id)
    assert da.dims == ("band", "y", "x") and list(da["band"].values) == ["B02", "B03", "B04", "B08"]
    assert da.rio.crs.to_epsg() == 32651 and da.rio.resolution() == (10.0, -10.0)
    assert float(da["x"][1] - da["x"][0]) == 10.0 and float(da["y"][1] - da["y"][0]) == -10.0
    assert da.attrs["simulated"] == 1 and "valid" in da.coords and "SCL" in da.coords
    assert 0.0 < float(da.sel(band="B04").median()) < 0.5  # reflectance, not DN
    base = m.baseline("mirim")
    assert set(base.data_vars) >= {"median", "sigma", "count", "valid"} and base.rio.crs == da.rio.crs
    assert base.attrs["version"] >= 1 and int(base["count"].max()) == 10  # the newest of the monthly baselines
    first = m.baseline("mirim", version=1)
    assert first.attrs["version"] == 1 and int(first["count"].max()) == 10
    change = m.change("mirim", scene_id)
    assert change["statistic"].dims == ("y", "x") and change.rio.crs == da.rio.crs
    # recomputed with the same detector and settings, it matches what the run stored
    stored = m.scores(site="mirim")
    row = stored[(stored["scene_id"] == scene_id) & (stored["zone"] == alert["zone"])].iloc[0]
    score = change[f"{alert['kind']}_score"].sel(zone=str(alert["zone"])).item()
    assert score == pytest.approx(row[f"{alert['kind']}_score"], abs=1e-3)  # stored rounded to 3 decimals
    assert score >= 0.5
    assert int(change["significant"].sum()) > 0


def test_plots_return_figures(m) -> None:  # type: ignore[no-untyped-def]
    from matplotlib.figure import Figure

    fig = m.plot_timeline("mirim", parades=PARADES)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any(t.startswith("2025-10-10") for t in texts)  # the parade after the demo period is marked
    assert "SIMULATED" in fig.get_suptitle()
    alert = m.alerts().iloc[0]
    fig = m.show("mirim", alert["scene_ids"][0], zone=str(alert["zone"]))
    assert isinstance(fig, Figure) and len(fig.axes) >= 3 and "SIMULATED" in fig.get_suptitle()
    with pytest.raises(Exception, match="no zone"):
        m.show("mirim", alert["scene_ids"][0], zone="nowhere")


# -- the parade table -----------------------------------------------------------------------------------


def test_parade_table_is_valid_and_sourced() -> None:
    from monitor.report.truth import read_truth

    events = read_truth(PARADES)
    parades = [e for e in events if e.is_parade]
    negatives = [e for e in events if not e.is_parade]
    assert len(parades) == 13 and len(negatives) == 4
    assert {e.parade_date for e in parades} >= {date(2015, 10, 10), date(2020, 10, 10), date(2026, 2, 25)}
    for e in events:
        assert e.sources or e.confidence == "low"
        assert all(s.startswith("https://") or s.startswith("http://") for s in e.sources)
    assert all(e.parade_date is None for e in negatives)


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("parade_date,occasion,first_reported_activity,confidence\n", "line 1", "missing column"),
        (
            "parade_date,occasion,first_reported_activity,confidence,source\n2020-10-10,x,2020-13-01,high,https://a\n",
            "line 2, column first_reported_activity",
            "not a valid date",
        ),
        (
            "# comment\nparade_date,occasion,first_reported_activity,confidence,source\n2020-10-10,x,,sure,https://a\n",
            "line 3, column confidence",
            "not one of",
        ),
        (
            "parade_date,occasion,first_reported_activity,confidence,source\n2020-10-10,x,,high,\n",
            "column confidence",
            "without a source",
        ),
        (
            "parade_date,occasion,first_reported_activity,confidence,source\n2020-10-10,x,2020-11-01,low,\n",
            "column first_reported_activity",
            "after the parade",
        ),
        ("parade_date,occasion,first_reported_activity,confidence,source\n2020-10-10,x,low\n", "line 2", "3 fields"),
        (
            "parade_date,occasion,first_reported_activity,confidence,source,kind\n2020-10-10,x,2020-01,low,,negative\n",
            "column parade_date",
            "no parade date",
        ),
    ],
)
def test_bad_parade_table_names_file_line_and_column(tmp_path: Path, text: str, where: str, what: str) -> None:
    from monitor.errors import TruthTableError
    from monitor.report.truth import read_truth

    path = tmp_path / "p.csv"
    path.write_text(text)
    with pytest.raises(TruthTableError) as info:
        read_truth(path)
    assert str(path) in str(info.value) and where in str(info.value) and what in str(info.value)


# -- evaluation -----------------------------------------------------------------------------------------


def _event(parade: str | None, first: str | None, kind: str = "parade", occasion: str = "x"):  # type: ignore[no-untyped-def]
    from monitor.report.truth import Event

    return Event(
        0,
        date.fromisoformat(parade) if parade else None,
        occasion,
        date.fromisoformat(first) if first else None,
        "day",
        "high",
        ("https://a",),
        kind,
    )


def test_evaluate_matches_each_alert_to_the_next_parade() -> None:
    from monitor.report.evaluate import AlertRef, evaluate, format_text

    events = [
        _event("2023-07-27", "2023-05-15"),
        _event("2023-09-09", None),
        _event("2021-01-14", "2020-12-27"),
        _event(None, "2024-06-11", "negative", "wall before a state visit"),
    ]
    alerts = [
        AlertRef("a1", "s", "z", "crowd", "high", date(2023, 5, 10)),
        AlertRef("a2", "s", "z", "vehicle", "low", date(2023, 8, 1)),
        AlertRef("a3", "s", "z", "crowd", "low", date(2024, 6, 20)),
        AlertRef("a4", "s", "z", "crowd", "low", date(2022, 1, 1)),
    ]
    scenes = ["2023-05-10", "2023-06-01", "2023-08-01", "2023-09-01", "2024-06-20", "2022-01-01"]
    result = evaluate(events, alerts, scenes)
    by_date = {p.parade_date.isoformat(): p for p in result.parades}
    july = by_date["2023-07-27"]
    assert july.status == "detected" and july.first_alert == date(2023, 5, 10)
    assert july.lead_days == 78 and july.days_before_reporting == 5
    assert by_date["2023-09-09"].status == "detected" and by_date["2023-09-09"].first_alert == date(2023, 8, 1)
    assert by_date["2021-01-14"].status == "not covered"
    unmatched = {u.alert.id: u.negative for u in result.unmatched}
    assert unmatched == {"a3": "wall before a state visit", "a4": None}
    assert [u.alert.id for u in result.false_alarms] == ["a4"]
    text = format_text(result)
    assert "2023-07-27  detected" in text and "known negative: wall before a state visit" in text


def test_evaluate_cli_on_demo(demo_dir: Path, tmp_path: Path) -> None:
    cfg = str(demo_dir / "config.toml")
    result = invoke("evaluate", "--config", cfg, "--truth", str(PARADES), "--site", "mirim")
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.strip().startswith("2025-10-10"))
    assert "detected" in line and "2025-07-" in line
    assert "2015-10-10  not covered" in result.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("parade_date,occasion,first_reported_activity,confidence,source\n2020-10-10,x,,maybe,\n")
    result = invoke("evaluate", "--config", cfg, "--truth", str(bad))
    assert result.returncode == 2 and f"{bad}: line 2, column confidence" in result.stderr
    assert "Traceback" not in result.stderr
    result = invoke("evaluate", "--config", cfg, "--truth", str(PARADES), "--site", "nowhere")
    assert result.returncode == 2 and "no site 'nowhere'" in result.stderr


def test_evaluate_on_simulated_scenes_says_so_in_text_and_json(demo_dir: Path) -> None:
    import json

    from click.testing import CliRunner

    from monitor.cli.main import cli

    cfg = str(demo_dir / "config.toml")
    text = CliRunner().invoke(cli, ["evaluate", "--config", cfg, "--truth", str(PARADES)])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0].startswith("SIMULATED DATA") and lines[-1].startswith("SIMULATED DATA")
    detected = next(x for x in lines if x.strip().startswith("2025-10-10"))
    assert "detected" in detected and detected.endswith("[SIMULATED]")
    out = CliRunner().invoke(cli, ["evaluate", "--config", cfg, "--truth", str(PARADES), "--format", "json"])
    doc = json.loads(out.output)
    assert doc["simulated"] is True and doc["notes"][0].startswith("SIMULATED DATA")
    # the tables say it too, per row: JSON true, CSV "true"
    scores = json.loads(CliRunner().invoke(cli, ["scores", "--config", cfg, "--format", "json"]).output)
    alerts = json.loads(CliRunner().invoke(cli, ["alerts", "--config", cfg, "--format", "json"]).output)
    assert scores and all(r["simulated"] is True for r in scores) and all(a["simulated"] is True for a in alerts)
    scenes = CliRunner().invoke(cli, ["scenes", "--config", cfg]).output.splitlines()
    assert scenes[0].endswith(",simulated") and all(line.endswith(",true") for line in scenes[1:])


def test_api_and_cli_refuse_the_same_filters(m, demo_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    import monitor
    from monitor.cli.main import cli

    with pytest.raises(monitor.ConfigError, match=r"no zone 'bogus' \(known: assembly-apron"):
        m.scores(zone="bogus")
    with pytest.raises(monitor.ConfigError, match="no alert status 'firng' \\(known: firing, resolved, dismissed\\)"):
        m.alerts(status="firng")
    bare = monitor.open(demo_dir / "monitor-data")  # no config: the zones come from the archive
    with pytest.raises(monitor.ConfigError, match="no zone 'bogus'"):
        bare.scores(zone="bogus")
    assert len(bare.scores(zone="replica-square")) == len(m.scores(zone="replica-square")) > 0
    cfg = str(demo_dir / "config.toml")
    result = CliRunner().invoke(cli, ["scores", "--config", cfg, "--zone", "bogus"])
    assert result.exit_code == 2 and "no zone 'bogus' (known: assembly-apron" in result.output
    assert "Traceback" not in result.output


def test_alert_status_filters_agree_between_api_and_cli(m, demo_dir: Path) -> None:  # type: ignore[no-untyped-def]
    import json

    from click.testing import CliRunner

    from monitor.cli.main import cli

    cfg = str(demo_dir / "config.toml")
    every = m.alerts()
    counts = {}
    for status in ("firing", "resolved", "dismissed"):
        result = CliRunner().invoke(cli, ["alerts", "--config", cfg, "--status", status, "--format", "json"])
        assert result.exit_code == 0, result.output
        rows = json.loads(result.output)
        assert sorted(r["id"] for r in rows) == sorted(m.alerts(status=status)["id"])
        counts[status] = len(rows)
    assert counts["firing"] > 0 and counts["resolved"] > 0 and sum(counts.values()) == len(every)


def test_alerts_table_is_one_readable_line_per_alert(demo_dir: Path) -> None:
    from click.testing import CliRunner

    from monitor.cli.main import cli

    cfg = str(demo_dir / "config.toml")
    result = CliRunner().invoke(cli, ["alerts", "--config", cfg, "--format", "table"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["level", "state", "kind", "site/zone"]
    alert_lines = [x for x in lines[1:] if not x.startswith("    ")]
    assert alert_lines and all(x.endswith("[SIMULATED]") for x in alert_lines)
    assert all("newest picture: " in x and x.count(";") == 1 for x in lines[1:] if x.startswith("    "))
    # not a terminal: CSV, the contract's default for scripts
    csv = CliRunner().invoke(cli, ["alerts", "--config", cfg])
    assert csv.output.startswith("id,site,zone,kind,level,status,")


def test_show_on_a_fully_clouded_scene_draws_what_it_can(m) -> None:  # type: ignore[no-untyped-def]
    from matplotlib.figure import Figure

    scenes = m.scenes(site="mirim", status="ok")
    clouded = scenes[scenes["usable_fraction"] == 0]
    if clouded.empty:
        pytest.skip("the demo has no fully clouded scene")
    fig = m.show("mirim", str(clouded.iloc[0]["scene_id"]))
    assert isinstance(fig, Figure)
    assert any("no change can be measured" in t.get_text() for ax in fig.axes for t in ax.texts)
    fig.canvas.draw()  # the ValueError of an all-NaN log stretch came at drawing time


# -- detectability --------------------------------------------------------------------------------------


def test_detectability_sees_large_formations_and_nothing_in_an_empty_zone() -> None:
    from monitor.analysis.detectability import run_trial, smallest_seen

    assert run_trial("crowd", 8, 10, seed=1).crowd_score >= 0.5
    assert run_trial("crowd", 1, 10, seed=1).crowd_score < 0.5
    empty = run_trial("vehicle", 0, 10, seed=1)
    assert empty.crowd_score < 0.5 and empty.vehicle_score < 0.5
    assert run_trial("vehicle", 160, 10, seed=1).vehicle_score >= 0.5
    rows = [{"pixel_m": 10, "count": c, "rate": r} for c, r in ((0, 0.0), (2, 0.0), (4, 1.0), (8, 1.0))]
    assert smallest_seen(rows, 0.5) == {10: 4}
    with pytest.raises(ValueError, match="pixel_m"):
        run_trial("crowd", 1, 7, seed=1)


# -- notebooks ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_the_demo(path: Path, demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    book = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") and not c.get("execution_count") for c in book.cells if c.cell_type == "code"), (
        f"{path.name} is stored with outputs: clear them before committing"
    )
    assert book.cells[0].cell_type == "markdown" and "Question" in book.cells[0].source
    # the kernel imports monitor from this checkout and reads the session's demo archive
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    monkeypatch.setenv("MONITOR_DEMO_DIR", str(demo_dir))
    monkeypatch.delenv("MONITOR_DATA_DIR", raising=False)
    client = nbclient.NotebookClient(
        book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError on any error
    images = [o for c in book.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, f"{path.name} drew no figure"


def test_alert_ids_by_unique_prefix() -> None:
    from monitor.alerts.ids import AmbiguousAlertError, resolve_alert_id
    from monitor.errors import AlertNotFoundError

    ids = ["mirim/a/crowd/20250705T020603Z", "mirim/a/crowd/20250801T020603Z", "mirim/b/vehicle/20250720T020549Z"]
    assert resolve_alert_id("mirim/b", ids) == ids[2]
    assert resolve_alert_id(ids[0], ids) == ids[0]
    with pytest.raises(
        AmbiguousAlertError, match="matches 2 alerts: mirim/a/crowd/20250705T020603Z, mirim/a/crowd/2025"
    ):
        resolve_alert_id("mirim/a", ids)
    with pytest.raises(AlertNotFoundError, match="no alert 'x'"):
        resolve_alert_id("x", ids)
    with pytest.raises(AlertNotFoundError):
        resolve_alert_id("", ids)


def test_ack_and_dismiss_by_prefix(demo_dir: Path, tmp_path: Path) -> None:
    import shutil

    from click.testing import CliRunner

    from monitor.cli.main import cli

    copy = tmp_path / "demo"
    shutil.copytree(demo_dir, copy)
    cfg = str(copy / "config.toml")
    runner = CliRunner()
    ambiguous = runner.invoke(cli, ["alerts", "ack", "mirim/", "--config", cfg])
    assert ambiguous.exit_code == 2 and "matches 3 alerts: mirim/assembly-apron/vehicle/" in ambiguous.output
    missing = runner.invoke(cli, ["alerts", "ack", "nowhere", "--config", cfg])
    assert missing.exit_code == 2 and missing.output.count("(see ") == 1, missing.output
    acked = runner.invoke(cli, ["alerts", "ack", "mirim/replica", "--config", cfg])
    assert acked.exit_code == 0 and acked.stdout.startswith("mirim/replica-square/crowd/2025"), acked.output
    gone = runner.invoke(cli, ["alerts", "dismiss", "mirim/west", "--reason", "car park", "--config", cfg])
    assert gone.exit_code == 0, gone.output
    table = runner.invoke(cli, ["alerts", "--config", cfg, "--format", "table", "--status", "dismissed"])
    assert "mirim/west-parking/vehicle/" in table.output and "dismissed: car park" in table.output


def test_sites_map_draws_the_zones_over_the_latest_clear_scene(demo_dir: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from monitor.cli.main import cli
    from monitor.pipeline.sitemap import CLEAR_FRACTION

    out = tmp_path / "map.png"
    result = CliRunner().invoke(cli, ["sites", "--config", str(demo_dir / "config.toml"), "--map", str(out)])
    assert result.exit_code == 0, result.output
    import monitor

    scenes = monitor.open(demo_dir).scenes(site="mirim", status="ok")
    clear = scenes[scenes["usable_fraction"] >= CLEAR_FRACTION]
    newest = str(clear.sort_values("acquired").iloc[-1]["scene_id"])
    assert f"map of mirim over {newest}: {out}" in result.stderr and out.stat().st_size > 50_000
