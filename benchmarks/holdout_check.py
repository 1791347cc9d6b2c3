"""Held-out scenario benchmark (issue 11): the monitor, as a black box, on scenes nobody tuned it on.

Built from the physics in issue 11 only, without reading the detector or the other two injectors
(see docs/holdout.md). On the real Flanders series (../shared/data/worldcereal-flanders, 118 Sentinel-2
and 159 Sentinel-1 dates) it writes, per run, an imagery folder and a config with seven zones of shapes
and sizes the other injectors do not use, runs ``python -m monitor run`` with ``PYTHONPATH`` at the
checkout given by ``--monitor``, reads ``scores --format csv`` and ``alerts --format json``, and prints
one table. Runs:

- ``raw``: the real files untouched, nothing injected at all;
- ``quiet``: zones painted (asphalt, concrete, dirt with a grass border), every confounder, no formation;
- ``episodes-N``: the same plus nine rehearsal episodes (troop blocks, marching columns, vehicle parks),
  arranged by seed N.

Asserts nothing. Usage:

    python benchmarks/holdout_check.py --monitor /work/main [--quick] [--seeds 1 2] [--keep DIR]

``--quick`` uses every other date and the runs raw + episodes-1 only; the full mode keeps every date,
cloudy ones included.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.holdout import metrics, series  # noqa: E402

log = logging.getLogger("holdout")


def run_monitor(monitor: Path, config: Path, *args: str) -> str:
    """Run ``python -m monitor`` from the checkout ``monitor``; stdout, or a RuntimeError with its stderr."""
    env = {**os.environ, "PYTHONPATH": str(monitor)}
    env.pop("MONITOR_DATA_DIR", None)
    env.pop("MONITOR_CONFIG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", *args[:1], "--config", str(config), *args[1:]],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"monitor {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def one_run(spec: series.RunSpec, data: Path, monitor: Path, workdir: Path) -> tuple[metrics.Figures, float, float]:
    """Build, score and measure one run; returns the figures and the seconds spent building and scoring."""
    folder = workdir / spec.name
    t0 = time.perf_counter()
    truth = series.build(spec, data, folder)
    truth.write_csv(folder / "truth.csv")
    t1 = time.perf_counter()
    cfg = folder / "config.toml"
    run_monitor(monitor, cfg, "run")
    scores = run_monitor(monitor, cfg, "scores", "--format", "csv")
    alerts = run_monitor(monitor, cfg, "alerts", "--format", "json")
    t2 = time.perf_counter()
    (folder / "scores.csv").write_text(scores)
    (folder / "alerts.json").write_text(alerts)
    with open(folder / "truth.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return metrics.figures(metrics.join(scores, rows), metrics.parse_alerts(alerts)), t1 - t0, t2 - t1


def print_table(results: list[tuple[str, metrics.Figures]], out: TextIO = sys.stdout) -> None:
    """One line per run, then the totals, the episodes and the false alerts."""
    f = metrics.fmt
    print(
        f"{'run':<12} {'obs':>5} {'quiet':>5} {'AUC crowd/n':>12} {'AUC veh/n':>10} {'veh S2':>6} {'veh S1':>6} "
        f"{'alerts':>6} {'false':>5} {'/100':>5} {'prec':>5}  max quiet crowd | max quiet vehicle",
        file=out,
    )
    for name, fg in results:
        mq = f"{fg.max_quiet_crowd[0]:.2f} {fg.max_quiet_crowd[1]}" if fg.max_quiet_crowd else "-"
        mv = f"{fg.max_quiet_vehicle[0]:.2f} {fg.max_quiet_vehicle[1]}" if fg.max_quiet_vehicle else "-"
        crowd = f"{f(fg.auc_crowd)}/{fg.n_crowd_pos}"
        veh = f"{f(fg.auc_vehicle)}/{fg.n_vehicle_pos}"
        print(
            f"{name:<12} {fg.n_obs:>5} {fg.n_quiet_usable:>5} {crowd:>12} {veh:>10} {f(fg.auc_vehicle_s2):>6} "
            f"{f(fg.auc_vehicle_s1):>6} {fg.n_alerts:>6} {fg.n_false:>5} {f(fg.false_per_100, 2):>5} "
            f"{f(fg.precision, 2):>5}  {mq} | {mv}",
            file=out,
        )
    n_alerts = sum(fg.n_alerts for _, fg in results)
    n_false = sum(fg.n_false for _, fg in results)
    n_quiet = sum(fg.n_quiet_usable for _, fg in results)
    per_100 = f(100 * n_false / n_quiet if n_quiet else None, 2)
    precision = f((n_alerts - n_false) / n_alerts if n_alerts else None, 2)
    print(
        f"all runs: {n_alerts} alerts, {n_false} false ({per_100} per 100 quiet zone-observations), "
        f"precision {precision}",
        file=out,
    )
    for name, fg in results:
        if fg.episodes:
            cells = ", ".join(f"{e} {zk}: {rank}/{n}" for e, zk, n, rank in fg.episodes)
            print(f"episodes {name} (first alerted usable view / usable views): {cells}", file=out)
        for fa in fg.false_alerts:
            print(f"false alert {name}: {fa}", file=out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--monitor", type=Path, default=ROOT, help="checkout whose monitor is measured (PYTHONPATH)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--quick", action="store_true", help="every other date; runs raw and episodes-1 only")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2], help="episode seeds (>= 1)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the run folders here (default: a temp dir)")
    opts = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    data = opts.data / "worldcereal-flanders"
    if not (data / "s2").is_dir():
        sys.exit(f"no real series under {data} (../shared/data not available)")
    if not (opts.monitor / "monitor" / "__init__.py").is_file():
        sys.exit(f"--monitor {opts.monitor}: not a checkout of monitor")
    specs = [series.RunSpec("raw", False, 0, opts.quick)]
    if not opts.quick:
        specs.append(series.RunSpec("quiet", True, 0))
    for s in opts.seeds[:1] if opts.quick else opts.seeds:
        if s < 1:
            sys.exit("--seeds must be >= 1 (seed 0 is the quiet run)")
        specs.append(series.RunSpec(f"episodes-{s}", True, s, opts.quick))
    from tqdm import tqdm

    results = []
    with tempfile.TemporaryDirectory(prefix="holdout-") as tmp:
        workdir = opts.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for spec in tqdm(specs, desc="runs", file=sys.stderr):
            fg, t_build, t_score = one_run(spec, data, opts.monitor.resolve(), workdir)
            log.info("%s: built in %.0f s, monitor run + tables in %.0f s", spec.name, t_build, t_score)
            results.append((spec.name, fg))
    print(f"monitor: {opts.monitor.resolve()}  data: {data}  mode: {'quick' if opts.quick else 'full'}")
    print_table(results)


if __name__ == "__main__":
    main()
