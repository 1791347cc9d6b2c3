"""Catalogue rows -> pandas DataFrames with fixed columns and dtypes.

Timestamps are ``datetime64[..., UTC]``; identifiers are ``string``; low-cardinality labels (site, zone,
sensor, kind, status) are categoricals, ``level`` an *ordered* categorical (low < medium < high); scores
are float64 with NaN where the archive holds none. The columns exist (and keep their dtypes) when a
table is empty, so code written against the demo archive works on a fresh one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

LEVELS = ("low", "medium", "high")

SCENE_DTYPES: dict[str, Any] = {
    "site": "category",
    "scene_id": "string",
    "acquired": "utc",
    "sensor": "category",
    "source": "string",
    "status": "category",
    "reason": "string",
    "usable_fraction": "float64",
    "attempts": "int64",
    "crop": "string",
    "simulated": "bool",
}
SCORE_DTYPES: dict[str, Any] = {
    "site": "category",
    "zone": "category",
    "scene_id": "string",
    "acquired": "utc",
    "sensor": "category",
    "usable_fraction": "float64",
    "change_fraction": "float64",
    "crowd_score": "float64",
    "vehicle_score": "float64",
    "state": "category",
    "baseline_version": "Int64",
    "detections": "int64",
    "usable": "bool",
    "simulated": "bool",
}
ALERT_DTYPES: dict[str, Any] = {
    "id": "string",
    "site": "category",
    "zone": "category",
    "kind": "category",
    "level": pd.CategoricalDtype(LEVELS, ordered=True),
    "status": "category",
    "first_seen": "utc",
    "last_seen": "utc",
    "resolved_at": "utc",
    "score": "float64",
    "n_scenes": "int64",
    "scene_ids": "object",
    "evidence": "object",
    "simulated": "bool",
}
SITE_DTYPES: dict[str, Any] = {
    "site": "string",
    "name": "string",
    "zones": "object",
    "resolution_m": "float64",
    "scenes": "int64",
    "first_acquired": "utc",
    "last_acquired": "utc",
    "alerts": "int64",
}
PARADE_DTYPES: dict[str, Any] = {
    "parade_date": "utc",
    "occasion": "string",
    "first_reported_activity": "utc",
    "activity_precision": "category",
    "confidence": pd.CategoricalDtype(("low", "medium", "high"), ordered=True),
    "kind": "category",
    "reported_lead_days": "Int64",
    "sources": "object",
    "notes": "string",
}


def typed_frame(rows: Iterable[Mapping[str, Any]], dtypes: Mapping[str, Any]) -> pd.DataFrame:
    """A DataFrame with exactly the columns of ``dtypes``, in that order, each cast to its dtype.

    ``"utc"`` parses ISO-8601 strings (or datetimes) into timezone-aware UTC timestamps; None is NaT/NaN/<NA>.
    """
    rows = list(rows)
    columns: dict[str, pd.Series] = {}
    for name, dtype in dtypes.items():
        values: Sequence[Any] = [row.get(name) for row in rows]
        if dtype == "utc":
            columns[name] = pd.Series(
                pd.to_datetime(list(values), utc=True, format="ISO8601"), dtype="datetime64[ns, UTC]"
            )
        elif dtype == "object":
            series = pd.Series(values, dtype="object")
            columns[name] = series
        elif dtype == "float64":
            columns[name] = pd.Series([float("nan") if v is None else v for v in values], dtype="float64")
        elif dtype == "bool":
            columns[name] = pd.Series([bool(v) for v in values], dtype="bool")
        else:
            columns[name] = pd.Series(values, dtype="object").astype(dtype)
    return pd.DataFrame(columns, columns=list(dtypes))
