"""The public tables: contract columns first, CSV cells (None empty, lists joined by ';'), JSON round trip."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.archive import Catalogue
from monitor.archive.records import Alert, SceneRecord, SceneStatus, ScoreRecord
from monitor.report.tables import (
    ALERT_FIELDS,
    SCENE_COLUMNS,
    SCORE_COLUMNS,
    alert_rows,
    format_rows,
    scene_rows,
    score_rows,
)

CONTRACT_SCORE_COLUMNS = (
    "site",
    "zone",
    "scene_id",
    "acquired",
    "sensor",
    "usable_fraction",
    "change_fraction",
    "crowd_score",
    "vehicle_score",
)
CONTRACT_ALERT_FIELDS = (
    "id",
    "site",
    "zone",
    "kind",
    "level",
    "status",
    "first_seen",
    "last_seen",
    "scene_ids",
    "score",
    "evidence",
)
CONTRACT_SCENE_COLUMNS = ("id", "site", "acquired", "sensor", "source", "status", "reason")

SCORE = {
    "site": "mirim",
    "zone": "square",
    "scene_id": "S2_20230115T021530",
    "acquired": "2023-01-15T02:15:30+00:00",
    "sensor": "S2",
    "usable_fraction": 0.75,
    "change_fraction": None,
    "crowd_score": 0.912345678,
    "vehicle_score": None,
    "state": "ok",
    "baseline_version": 2,
}
ALERT = {
    "id": "mirim-square-crowd-1",
    "site": "mirim",
    "zone": "square",
    "kind": "crowd",
    "level": "high",
    "status": "firing",
    "first_seen": "2023-01-15T02:15:30+00:00",
    "last_seen": "2023-01-20T02:15:30+00:00",
    "scene_ids": ["S2_20230115T021530", "S2_20230120T021530"],
    "score": 0.9,
    "evidence": ["/data/renders/a.png", "/data/renders/b.png"],
    "resolved_at": None,
    "acked_at": None,
    "dismissed_at": None,
    "dismiss_reason": None,
}


def _csv(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


@pytest.mark.parametrize(
    ("columns", "contract"),
    [(SCORE_COLUMNS, CONTRACT_SCORE_COLUMNS), (ALERT_FIELDS, CONTRACT_ALERT_FIELDS), (SCENE_COLUMNS, None)],
    ids=["scores", "alerts", "scenes"],
)
def test_contract_columns_come_first(columns: tuple[str, ...], contract: tuple[str, ...] | None) -> None:
    if contract is not None:
        assert columns[: len(contract)] == contract
    else:
        assert set(CONTRACT_SCENE_COLUMNS) <= set(columns) and columns[0] == "id"
    assert len(set(columns)) == len(columns)


def test_csv_header_and_cells() -> None:
    text = format_rows([SCORE], SCORE_COLUMNS, "csv")
    header, rows = _csv(text)
    assert header == list(SCORE_COLUMNS)
    assert text.splitlines()[0] == ",".join(SCORE_COLUMNS)
    (row,) = rows
    assert row["change_fraction"] == "" and row["vehicle_score"] == ""
    assert row["usable_fraction"] == "0.75" and row["baseline_version"] == "2"
    assert float(row["crowd_score"]) == pytest.approx(SCORE["crowd_score"], rel=1e-5)
    assert row["acquired"] == SCORE["acquired"]


def test_csv_joins_lists() -> None:
    _, (row,) = _csv(format_rows([ALERT], ALERT_FIELDS, "csv"))
    assert row["scene_ids"] == "S2_20230115T021530;S2_20230120T021530"
    assert row["evidence"].split(";") == ALERT["evidence"]
    assert row["resolved_at"] == ""


def test_csv_header_without_rows() -> None:
    assert format_rows([], SCORE_COLUMNS, "csv") == ",".join(SCORE_COLUMNS) + "\n"
    assert json.loads(format_rows([], SCORE_COLUMNS, "json")) == []


def test_csv_quotes_awkward_text() -> None:
    row = {**SCORE, "zone": 'the "big", square\nnorth'}
    _, (back,) = _csv(format_rows([row], SCORE_COLUMNS, "csv"))
    assert back["zone"] == 'the "big", square north'  # quotes and commas kept, the line break folded


def test_json_round_trips() -> None:
    rows = [SCORE, {**SCORE, "zone": "parking", "crowd_score": None, "vehicle_score": 0.4}]
    back = json.loads(format_rows(rows, SCORE_COLUMNS, "json"))
    assert back == [{c: r.get(c) for c in SCORE_COLUMNS} for r in rows]
    assert list(back[0]) == list(SCORE_COLUMNS)
    alerts = json.loads(format_rows([ALERT], ALERT_FIELDS, "json"))
    assert alerts == [{**ALERT, "simulated": None}] and isinstance(alerts[0]["scene_ids"], list)


def test_missing_keys_are_empty() -> None:
    _, (row,) = _csv(format_rows([{"site": "mirim"}], SCORE_COLUMNS, "csv"))
    assert row["site"] == "mirim" and all(row[c] == "" for c in SCORE_COLUMNS[1:])
    assert json.loads(format_rows([{"site": "mirim"}], SCORE_COLUMNS, "json"))[0]["zone"] is None


cells = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(blacklist_characters="\r", blacklist_categories=("Cs",)), max_size=20),
    st.integers(-(10**6), 10**6),
    st.lists(st.text(alphabet=st.characters(blacklist_characters=";\r\n"), min_size=1, max_size=8), max_size=4),
)


@given(rows=st.lists(st.fixed_dictionaries({c: cells for c in CONTRACT_ALERT_FIELDS}), max_size=5))
def test_json_round_trips_any_rows(rows: list[dict[str, Any]]) -> None:
    assert json.loads(format_rows(rows, CONTRACT_ALERT_FIELDS, "json")) == rows


@given(rows=st.lists(st.fixed_dictionaries({c: cells for c in CONTRACT_ALERT_FIELDS}), max_size=5))
def test_csv_has_one_record_per_row(rows: list[dict[str, Any]]) -> None:
    text = format_rows(rows, CONTRACT_ALERT_FIELDS, "csv")
    header, back = _csv(text)
    assert header == list(CONTRACT_ALERT_FIELDS) and len(back) == len(rows)
    assert text.count("\n") == len(rows) + 1 and "\r" not in text  # one line per record
    for row, got in zip(rows, back, strict=True):
        for column, value in row.items():
            if value is None:
                assert got[column] == ""
            elif isinstance(value, list):
                assert got[column] == fold(";".join(value))
            else:
                assert got[column] == fold(str(value))


def fold(text: str) -> str:
    return re.sub(r"\r\n|\r|\n", " ", text)


# --- the rows from the catalogue ---------------------------------------------------------------------


def test_rows_from_the_catalogue(tmp_path: Path) -> None:
    with Catalogue(tmp_path) as cat:
        with cat.transaction():
            cat.upsert_scene(
                SceneRecord(
                    site="mirim",
                    scene_id="S2_20230115T021530",
                    source="local:imagery",
                    acquired="2023-01-15T02:15:30+00:00",
                    sensor="S2",
                    status=SceneStatus.FAILED,
                    reason="truncated file",
                )
            )
            cat.replace_scores("mirim", "S2_20230115T021530", [ScoreRecord(**SCORE, detections=({"x": 1},))])
            cat.save_alert(Alert(**ALERT))
        scenes = scene_rows(cat)
        scores = score_rows(cat)
        alerts = alert_rows(cat)
    assert list(scenes[0]) == list(SCENE_COLUMNS)
    assert scenes[0]["id"] == "S2_20230115T021530" and scenes[0]["reason"] == "truncated file"
    assert scenes[0]["attempts"] == 1
    assert list(scores[0]) == list(SCORE_COLUMNS) and scores[0]["crowd_score"] == SCORE["crowd_score"]
    assert alerts == [{**{f: ALERT.get(f) for f in ALERT_FIELDS}, "simulated": False}]
    assert scenes[0]["simulated"] is False and scores[0]["simulated"] is False
    _, (csv_alert,) = _csv(format_rows(alerts, ALERT_FIELDS, "csv"))
    assert csv_alert["scene_ids"] == "S2_20230115T021530;S2_20230120T021530"


@pytest.mark.parametrize("reason", ["GDAL: read failed\r", "a\rb", "two\nlines", "crlf\r\nend"])
def test_csv_folds_line_breaks_inside_a_cell(reason: str) -> None:
    # one record per line, so `grep`/`awk`/`cut` users and every CSV reader agree on the rows
    rows = [{"id": "S2_1", "reason": reason}, {"id": "S2_2", "reason": "ok"}]
    text = format_rows(rows, ("id", "reason"), "csv")
    assert text.count("\n") == 3 and "\r" not in text
    back = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["reason"] for r in back] == [fold(reason), "ok"]


def test_alerts_default_to_a_table_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from monitor.cli import alerts

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    assert alerts._default_format() == "table"
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)
    assert alerts._default_format() == "csv"


def test_alert_table_lines() -> None:
    from monitor.report.tables import format_alert_table

    row = {f: ALERT.get(f) for f in ALERT_FIELDS}
    text = format_alert_table([{**row, "simulated": True}, {**row, "dismissed_at": "x", "dismiss_reason": "cars"}])
    lines = text.splitlines()
    assert lines[0].split() == ["level", "state", "kind", "site/zone", "seen", "(UTC)", "score", "id"]
    assert lines[1].endswith("[SIMULATED]") and " firing " in lines[1] and ALERT["id"] in lines[1]
    assert lines[2].startswith("    2 scene(s), 2 evidence file(s); newest picture: none on disk")
    assert " dismissed " in lines[3] and lines[5] == "    dismissed: cars"
    assert format_alert_table([]) == "no alerts\n"
