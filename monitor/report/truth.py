"""The ground-truth table of past parades (``configs/parades.csv``): read and validated, no pandas.

One row per event. Columns, in this order (extra columns after them are kept in :attr:`Event.extra`):

``parade_date``
    ISO date of the parade (``2023-02-08``); empty for a hard negative (activity but no parade).
``occasion``
    What was celebrated, or for a hard negative what was seen.
``first_reported_activity``
    Earliest publicly reported rehearsal activity: ``YYYY-MM-DD``, or ``YYYY-MM`` when only the month is
    known (taken as the 1st, so a lead time measured against it is an upper bound); empty if not found.
``confidence``
    ``high`` | ``medium`` | ``low``: how well the date is sourced.
``source``
    URL(s) of the public reporting, ``;``-separated; empty when none was found (then confidence is ``low``).
``kind``
    ``parade`` or ``negative`` (activity that led to no parade: a hard negative for the detector).
``notes``
    Free text: the wording of the source ("early Aug 2018"), caveats.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from monitor.errors import TruthTableError

COLUMNS = ("parade_date", "occasion", "first_reported_activity", "confidence", "source", "kind", "notes")
REQUIRED = COLUMNS[:5]
CONFIDENCE = ("high", "medium", "low")
KINDS = ("parade", "negative")


@dataclass(frozen=True)
class Event:
    """One row of the table: a parade, or a hard negative (``parade_date`` None)."""

    line: int
    parade_date: date | None
    occasion: str
    first_reported_activity: date | None
    activity_precision: str
    confidence: str
    sources: tuple[str, ...]
    kind: str = "parade"
    notes: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_parade(self) -> bool:
        """True for a parade, False for a hard negative."""
        return self.kind == "parade"

    @property
    def reported_lead_days(self) -> int | None:
        """Days from the first publicly reported activity to the parade (None if either is unknown)."""
        if self.parade_date is None or self.first_reported_activity is None:
            return None
        return (self.parade_date - self.first_reported_activity).days


def parse_day(text: str, *, month_ok: bool = False) -> tuple[date | None, str]:
    """``YYYY-MM-DD`` -> (date, "day"); with ``month_ok`` also ``YYYY-MM`` -> (1st of month, "month");
    empty -> (None, ""). :class:`ValueError` with a readable reason otherwise."""
    text = text.strip()
    if not text:
        return None, ""
    parts = text.split("-")
    try:
        if len(parts) == 3 and len(parts[0]) == 4:
            return date.fromisoformat(text), "day"
        if month_ok and len(parts) == 2 and len(parts[0]) == 4 and len(parts[1]) == 2:
            return date(int(parts[0]), int(parts[1]), 1), "month"
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid date ({exc})") from None
    wanted = "YYYY-MM-DD or YYYY-MM" if month_ok else "YYYY-MM-DD"
    raise ValueError(f"{text!r} is not a date of the form {wanted}")


def read_truth(path: str | os.PathLike[str]) -> list[Event]:
    """Read and validate a parades table; :class:`TruthTableError` names the file, line and column.

    Lines starting with ``#`` are comments. Rows are returned in file order.
    """
    path = Path(path)
    origin = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TruthTableError("file not found", path=origin) from None
    except UnicodeDecodeError:
        raise TruthTableError("not UTF-8 text", path=origin) from None
    except OSError as exc:
        raise TruthTableError(f"cannot read: {exc.strerror}", path=origin) from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if not line.lstrip().startswith("#")]
    if not lines or not lines[0][1].strip():
        raise TruthTableError("empty file: expected a header line " + ",".join(COLUMNS), path=origin)
    reader = csv.reader([line for _, line in lines], skipinitialspace=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise TruthTableError(
            f"not valid CSV: {exc}", path=origin, key=f"line {lines[reader.line_num - 1][0]}"
        ) from None
    header = [h.strip() for h in rows[0]]
    header_line = lines[0][0]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise TruthTableError(
            f"missing column(s) {', '.join(missing)}; the header must start with {','.join(REQUIRED)}",
            path=origin,
            key=f"line {header_line}",
        )
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise TruthTableError(f"duplicate column(s) {', '.join(dupes)}", path=origin, key=f"line {header_line}")
    events = []
    for (lineno, _), values in zip(lines[1:], rows[1:], strict=True):
        if not any(v.strip() for v in values):
            continue
        events.append(_event(values, header, lineno, origin))
    return events


def _event(values: list[str], header: list[str], lineno: int, origin: str) -> Event:
    def fail(column: str, message: str) -> TruthTableError:
        return TruthTableError(message, path=origin, key=f"line {lineno}, column {column}")

    if len(values) != len(header):
        raise TruthTableError(
            f"{len(values)} fields, the header has {len(header)} (quote fields that hold commas)",
            path=origin,
            key=f"line {lineno}",
        )
    row = {h: v.strip() for h, v in zip(header, values, strict=True)}
    kind = row.get("kind", "") or "parade"
    if kind not in KINDS:
        raise fail("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    try:
        parade, _ = parse_day(row["parade_date"])
    except ValueError as exc:
        raise fail("parade_date", str(exc)) from None
    if kind == "parade" and parade is None:
        raise fail("parade_date", "empty: a parade needs its date (a hard negative has kind = negative)")
    if kind == "negative" and parade is not None:
        raise fail("parade_date", "a hard negative (kind = negative) has no parade date: leave it empty")
    try:
        first, precision = parse_day(row["first_reported_activity"], month_ok=True)
    except ValueError as exc:
        raise fail("first_reported_activity", str(exc)) from None
    if kind == "negative" and first is None:
        raise fail("first_reported_activity", "empty: a hard negative needs the date of its activity")
    if parade is not None and first is not None and first > parade:
        raise fail("first_reported_activity", f"{first} is after the parade date {parade}")
    confidence = row["confidence"].lower()
    if confidence not in CONFIDENCE:
        raise fail("confidence", f"{row['confidence']!r} is not one of {', '.join(CONFIDENCE)}")
    sources = tuple(s.strip() for s in row["source"].split(";") if s.strip())
    for s in sources:
        if not s.startswith(("http://", "https://")):
            raise fail("source", f"{s!r} is not a URL (separate several with ';')")
    if not sources and confidence != "low":
        raise fail("confidence", f"{confidence!r} without a source: a row with no source is 'low'")
    if not row["occasion"]:
        raise fail("occasion", "empty: say what was celebrated (or seen, for a hard negative)")
    return Event(
        line=lineno,
        parade_date=parade,
        occasion=row["occasion"],
        first_reported_activity=first,
        activity_precision=precision,
        confidence=confidence,
        sources=sources,
        kind=kind,
        notes=row.get("notes", ""),
        extra={h: v for h, v in row.items() if h not in COLUMNS},
    )
