"""Hostile or broken configs (issue 13): whatever the file holds, the monitor answers with a ConfigError that
names the file and key (exit 2, one line, no traceback), and no id can make it write outside data_dir.
Property tests (hypothesis) on top of the examples in test_config.py."""

from __future__ import annotations

import json
import math
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import monitor.pipeline.run  # noqa: F401 (the module, for site_grids)
from monitor.cli.main import cli
from monitor.config import parse_config
from monitor.errors import ConfigError
from monitor.pipeline.rows import safe_name

SETTINGS = settings(max_examples=150)  # deadline and health checks: the "monitor" profile in conftest

VALID: dict[str, Any] = {
    "monitor": {"data_dir": "data", "since": "2024-01-01", "deadline": "45m"},
    "sources": [{"kind": "local", "path": "."}],
    "sites": [
        {
            "id": "mirim",
            "name": "Mirim",
            "bbox": [125.825, 39.005, 125.870, 39.035],
            "zones": [{"id": "square", "kind": "crowd", "bbox": [125.838, 39.012, 125.846, 39.018]}],
        }
    ],
    "email": {"enabled": False, "smtp_port": 587, "security": "starttls", "recipients": ["a@example.org"]},
    "alerts": {"threshold": 0.5, "medium": 0.7, "high": 0.85},
    "detect": {"warmup_scenes": 10, "false_alarm_rate": 1e-4},
}

toml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["../../etc", "a;rm -rf /", "$(id)", "`id`", "x\x00y", "A", "", "é", "-", "--", "a" * 300]),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    doc = json.loads(json.dumps(doc))
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return doc


def _load(doc: Any, base: Path) -> None:
    """Validate, then build every site's grid (where a huge or degenerate footprint shows)."""
    config = parse_config(doc, base=base, origin=str(base / "monitor.toml"), env={})
    sys.modules["monitor.pipeline.run"].site_grids(config)  # as `monitor run` builds them, before any work


@SETTINGS
@given(path=st.sampled_from(_paths(VALID)), value=toml_values)
def test_any_value_anywhere_is_accepted_or_a_config_error(tmp_path: Path, path: tuple[Any, ...], value: Any) -> None:
    doc = _set(VALID, path, None if value is None else value)
    if value is None:  # TOML has no null: the key is left out instead
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        del parent[path[-1]]
    try:
        _load(doc, tmp_path)
    except ConfigError as exc:
        assert str(tmp_path / "monitor.toml") in str(exc)


@SETTINGS
@given(key=st.text(min_size=1, max_size=20), where=st.sampled_from(["", "monitor", "email", "alerts", "detect"]))
def test_an_unknown_key_is_named(tmp_path: Path, key: str, where: str) -> None:
    known = {"", "monitor", "sources", "sites", "email", "alerts", "detect", "credentials", "path"}
    doc = json.loads(json.dumps(VALID))
    table = doc if not where else doc[where]
    if key in table or (not where and key in known):
        return
    table[key] = 1
    with pytest.raises(ConfigError, match="unknown key"):
        _load(doc, tmp_path)


@pytest.mark.parametrize(
    ("where", "typo", "hint"),
    [("monitor", "datadir", "data_dir"), ("email", "smtp_hots", "smtp_host"), ("alerts", "treshold", "threshold")],
)
def test_an_unknown_key_close_to_a_known_one_gets_a_hint(tmp_path: Path, where: str, typo: str, hint: str) -> None:
    doc = json.loads(json.dumps(VALID))
    doc[where][typo] = 1
    with pytest.raises(ConfigError, match=f"{where}.{typo}: unknown key \\(did you mean '{hint}'\\?\\)"):
        _load(doc, tmp_path)


@SETTINGS
@given(text=st.text(max_size=400))
def test_any_text_as_the_file_is_read_or_refused_cleanly(tmp_path: Path, text: str) -> None:
    from monitor.config import load_config

    path = tmp_path / "monitor.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass") if "\ud800" not in text else None
    if not path.exists():
        return
    try:
        load_config(path, env={})
    except ConfigError as exc:
        assert str(path) in str(exc)


@SETTINGS
@given(data=st.binary(max_size=300))
def test_any_bytes_as_the_file_are_refused_cleanly(tmp_path: Path, data: bytes) -> None:
    from monitor.config import load_config

    path = tmp_path / "monitor.toml"
    path.write_bytes(data)
    try:
        load_config(path, env={})
    except ConfigError as exc:
        assert str(path) in str(exc)


bboxes = st.tuples(*[st.floats(allow_nan=True, allow_infinity=True, width=64)] * 4)


@SETTINGS
@given(bbox=bboxes)
def test_huge_degenerate_or_impossible_bboxes(tmp_path: Path, bbox: tuple[float, float, float, float]) -> None:
    doc = json.loads(json.dumps(VALID))
    doc["sites"][0]["bbox"] = list(bbox)
    doc["sites"][0]["zones"] = []
    try:
        _load(doc, tmp_path)
    except ConfigError:
        return
    assert all(math.isfinite(v) for v in bbox) and bbox[0] < bbox[2] and bbox[1] < bbox[3]


def test_the_whole_world_is_refused_before_any_work(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(VALID))
    doc["sites"][0]["bbox"] = [-180, -90, 180, 90]
    doc["sites"][0]["zones"] = []
    with pytest.raises(ConfigError):
        _load(doc, tmp_path)


def test_a_self_intersecting_polygon_is_a_config_error(tmp_path: Path) -> None:
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[125.83, 39.01], [125.86, 39.03], [125.86, 39.01], [125.83, 39.03], [125.83, 39.01]]],
    }
    (tmp_path / "bowtie.geojson").write_text(json.dumps(bowtie))
    doc = json.loads(json.dumps(VALID))
    del doc["sites"][0]["bbox"]
    doc["sites"][0]["geometry"] = "bowtie.geojson"
    doc["sites"][0]["zones"] = []
    with pytest.raises(ConfigError, match=r"sites\[0 id=mirim\]\.geometry"):
        _load(doc, tmp_path)


@pytest.mark.parametrize(
    "bad_id", ["../escape", "..", "a/b", "a;rm -rf ~", "$(touch x)", "`id`", "UPPER", "", "a b", "ü", "x\n", "a\\b"]
)
def test_hostile_ids_exit_2_with_one_line_and_write_nothing(tmp_path: Path, bad_id: str) -> None:
    (tmp_path / "imagery").mkdir()
    for where in ("site", "zone"):
        doc = json.loads(json.dumps(VALID))
        doc["sources"] = [{"kind": "local", "path": "imagery"}]
        if where == "site":
            doc["sites"][0]["id"] = bad_id
        else:
            doc["sites"][0]["zones"][0]["id"] = bad_id
        path = tmp_path / "monitor.toml"
        path.write_text(_toml(doc))
        result = CliRunner().invoke(cli, ["run", "--config", str(path)])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.output and ".id: must use only a-z" in lines[0]
        assert not (tmp_path / "data").exists()  # nothing written, inside or outside


@SETTINGS
@given(scene_id=st.text(min_size=1, max_size=60))
def test_no_scene_id_names_a_file_outside_its_folder(tmp_path: Path, scene_id: str) -> None:
    """Scene ids come from outside (file names, STAC item ids); as file names they stay in their folder."""
    folder = tmp_path / "crops" / "site"
    name = safe_name(scene_id)
    assert "/" not in name and "\\" not in name and "\x00" not in name
    for suffix in (".tif", ".png", "-change.tif"):
        target = (folder / f"{name}{suffix}").resolve()
        assert target.parent == folder.resolve()


def _toml(doc: dict[str, Any]) -> str:
    """A minimal TOML writer for the config shape (tables, arrays of tables, scalars and scalar arrays)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)

    lines: list[str] = []

    def table(name: str, body: dict[str, Any], array: bool = False) -> None:
        lines.append(f"[[{name}]]" if array else f"[{name}]")
        subs = []
        for k, v in body.items():
            if isinstance(v, dict):
                subs.append((k, v, False))
            elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                subs.extend((k, x, True) for x in v)
            else:
                lines.append(f"{k} = {value(v)}")
        for k, v, arr in subs:
            table(f"{name}.{k}", v, arr)

    for k, v in doc.items():
        if isinstance(v, list):
            for item in v:
                table(k, item, True)
        else:
            table(k, v)
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # the writer's output is TOML
    return text
