"""The cron path stays light: a no-op `monitor run` (nothing new) and `monitor --help` load none of the heavy
libraries that only scoring, rendering or composing a message need. Checked on sys.modules in a fresh
interpreter, not timed (the times are benchmarks/noop_run.py's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, run_cli

#: Loaded only once there is a scene to score (SciPy, scikit-image), a picture to draw (matplotlib,
#: Pillow) or an alert message to compose (Jinja2); progress bars only when there is work to show;
#: retries (tenacity, which imports tornado when it is installed) only with a remote source.
HEAVY = ("scipy", "skimage", "matplotlib", "PIL", "jinja2", "pandas", "xarray", "dask", "tqdm", "tenacity", "tornado")

PROBE = """
import json, sys
from monitor.cli.main import cli
try:
    cli.main(sys.argv[1:], prog_name="monitor")
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def _probe(*args: str) -> tuple[int, set[str], str]:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return int(result["code"] or 0), set(result["modules"]), done.stderr


def test_a_noop_run_loads_no_scoring_rendering_or_templating(synthetic_site) -> None:  # type: ignore[no-untyped-def]
    config = synthetic_site()  # scenes, baselines, alerts and a message: every heavy path ran once
    first = run_cli("run", "--config", str(config))
    assert first.returncode == 0, first.stderr
    code, modules, stderr = _probe("-q", "run", "--config", str(config))
    assert code == 0 and stderr == ""
    assert "rasterio" in modules and "monitor" in modules  # the probe did run the pass
    assert sorted(modules & set(HEAVY)) == []


def test_help_loads_no_numpy_rasterio_or_pydantic() -> None:
    code, modules, _ = _probe("--help")
    assert code == 0
    assert sorted(modules & {"numpy", "rasterio", "pydantic", "shapely", *HEAVY}) == []


def test_a_scoring_run_does_load_them(synthetic_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = synthetic_site(quiet=8, formations=("crowd",))  # so the first check above can fail
    code, modules, _ = _probe("-q", "run", "--config", str(config))
    assert code == 0
    assert {"scipy", "skimage"} <= modules
