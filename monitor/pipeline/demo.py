"""``monitor demo``: build the simulated replay archive, run the real pipeline on it, say where things are."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.archive.catalogue import Catalogue
from monitor.config import load_config
from monitor.pipeline import RunSummary, run
from monitor.report.tables import alert_rows
from monitor.simulate import DemoTruth, build_demo_imagery, write_demo_config


@dataclass(frozen=True)
class DemoResult:
    """Where the demo put everything, and what the pipeline found."""

    folder: Path
    config_path: Path
    data_dir: Path
    summary: RunSummary
    truth: DemoTruth
    alerts: list[dict[str, Any]]
    scenes: int

    def describe(self) -> str:
        """A short, human-readable account for the terminal."""
        cfg = self.config_path
        data = self.data_dir
        lines = [
            "SIMULATED DATA: a Mirim-like site rendered by monitor.simulate (not Copernicus imagery).",
            f"{self.scenes} scenes in {self.folder / 'imagery'}",
            f"truth:    {self.folder / 'imagery' / 'truth.csv'}",
            f"config:   {cfg}",
            f"archive:  {data / Catalogue.FILENAME}",
            f"crops:    {data / 'crops'}",
            f"messages: {data / 'outbox'}",
            f"this run: {self.summary.new_scenes} new scene(s), {self.summary.scored_scenes} scored, "
            f"{len(self.summary.alert_changes)} alert change(s)",
            "",
            f"{len(self.alerts)} alert(s):",
        ]
        for a in self.alerts:
            lines.append(
                f"  {a['level']:<6} {a['status']:<8} {a['kind']:<7} {a['zone']:<15} "
                f"{a['first_seen'][:10]} .. {a['last_seen'][:10]}  score {a['score']:.2f}  "
                f"({len(a['scene_ids'])} scene(s))"
            )
            if a["evidence"]:
                lines.append(f"         evidence: {a['evidence'][0]}")
        lines += [
            "",
            "Explore:",
            f"  monitor scores --config {cfg}",
            f"  monitor alerts --config {cfg} --format json",
            f"  monitor scenes --config {cfg}",
            f"  monitor report --config {cfg} --out {self.folder / 'report'}",
        ]
        if os.environ.get("MONITOR_DATA_DIR"):
            lines.append("  (unset MONITOR_DATA_DIR first: it overrides the demo config's data_dir)")
        return "\n".join(lines)


def run_demo(out: Path, *, progress: bool = False) -> DemoResult:
    """Simulate the demo imagery into ``out/imagery``, write ``out/config.toml`` and run the pipeline.

    Deterministic: the same folder gives the same archive; running it again is an incremental no-op.
    """
    out = out.expanduser().resolve()
    truth = build_demo_imagery(out / "imagery")
    config_path = out / "config.toml"
    if not config_path.exists():  # a user's edits to the demo config are kept
        write_demo_config(config_path)
    # env={}: $MONITOR_DATA_DIR must never send simulated scenes into a real archive
    config = load_config(config_path, env={})
    summary = run(config, progress=progress)
    with Catalogue(config.data_dir, readonly=True) as catalogue:
        alerts = alert_rows(catalogue)
        scenes = len(catalogue.scenes())
    return DemoResult(
        folder=out,
        config_path=config_path,
        data_dir=config.data_dir,
        summary=summary,
        truth=truth,
        alerts=alerts,
        scenes=scenes,
    )
