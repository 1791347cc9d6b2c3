"""Shared fixtures: synthetic Sentinel-2 scenes built in code, configs, the real shared data, the CLI."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import HealthCheck, settings

#: Hypothesis measures nothing in wall time here: no per-example deadline and no "generation is slow" check,
#: which failed test_tables on a machine at a load average of 20 (timing belongs in benchmarks, not tests).
settings.register_profile(
    "monitor", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
settings.load_profile("monitor")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

#: A small synthetic site (about 600 x 600 m near Mirim) with a crowd zone and a vehicle zone.
SITE_BBOX = (125.840, 39.010, 125.847, 39.0155)
CROWD_BBOX = (125.8410, 39.0110, 125.8435, 39.0135)
VEHICLE_BBOX = (125.8440, 39.0110, 125.8465, 39.0135)

#: Band descriptions of a Sentinel-2 L2A file as the contract names them.
S2_NAMES = ("B02", "B03", "B04", "B08", "SCL")

CONFIG_TEMPLATE = """
[monitor]
data_dir = "data"

[[sources]]
kind = "local"
path = "imagery"

[[sites]]
id = "test-site"
name = "Synthetic test site"
bbox = [{site}]

  [[sites.zones]]
  id = "square"
  kind = "crowd"
  bbox = [{crowd}]

  [[sites.zones]]
  id = "parking"
  kind = "vehicle"
  bbox = [{vehicle}]

[detect]
warmup_scenes = 6
"""


def shared_data(*parts: str) -> Path:
    """A path in ../shared/data, skipping the test when that folder is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip("shared/data not available")
    return path


def write_config(folder: Path, extra: str = "") -> Path:
    """The synthetic site's config in ``folder``; ``extra`` TOML is appended."""
    text = CONFIG_TEMPLATE.format(
        site=", ".join(map(str, SITE_BBOX)),
        crowd=", ".join(map(str, CROWD_BBOX)),
        vehicle=", ".join(map(str, VEHICLE_BBOX)),
    )
    path = folder / "monitor.toml"
    path.write_text(text + extra)
    return path


def site_grid_of(config_path: Path):  # type: ignore[no-untyped-def]
    from monitor.config import load_config
    from monitor.grid import site_grid

    return site_grid(load_config(config_path).sites[0])


def write_geotiff(
    path: Path,
    data: np.ndarray,
    transform: Affine,
    crs: object,
    *,
    descriptions: tuple[str, ...] | None = S2_NAMES,
    nodata: float | None = 0,
    **options: object,
) -> Path:
    """A GeoTIFF of (bands, rows, cols) ``data`` as is (no scaling), bands named by ``descriptions``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {"compress": "deflate", **options}
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype=data.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
        **profile,
    ) as dst:
        dst.write(data)
        for i, name in enumerate(descriptions or (), start=1):
            dst.set_band_description(i, name)
    return path


def write_s2(
    path: Path,
    reflectance: np.ndarray,
    transform: Affine,
    crs: object,
    scl: np.ndarray | None = None,
    descriptions: tuple[str, ...] | None = S2_NAMES,
) -> Path:
    """Write a Sentinel-2 L2A-like GeoTIFF: uint16 DN (reflectance x 1e4), nodata 0, band descriptions."""
    dn = np.clip(np.round(reflectance * 10000), 1, 65535).astype(np.uint16)
    data = np.concatenate([dn] if scl is None else [dn, scl[None].astype(np.uint16)], axis=0)
    names = None if descriptions is None else descriptions[: data.shape[0]]
    return write_geotiff(path, data, transform, crs, descriptions=names)


@pytest.fixture
def synthetic_site(tmp_path: Path) -> Callable[..., Path]:
    """Build a synthetic scenario; returns the config path.

    Paved ground (concrete square, asphalt parking) with per-date illumination gain and noise: ``quiet``
    quiet dates, then dates listed in ``formations`` ("crowd" = 8 dark 2x2-px blocks in a lattice on the
    square, "vehicle" = 4 rows of vehicles on the parking, "cloud" = the whole site under cloud).
    """

    def build(
        quiet: int = 8, formations: tuple[str, ...] = ("crowd", "vehicle", "none", "cloud"), seed: int = 1
    ) -> Path:
        imagery = tmp_path / "imagery"
        imagery.mkdir(exist_ok=True)
        config_path = write_config(tmp_path)
        grid = site_grid_of(config_path)
        rng = np.random.default_rng(seed)
        h, w = grid.shape
        base = np.empty((4, h, w), np.float32)
        base[:] = np.array([0.06, 0.08, 0.10, 0.30], np.float32)[:, None, None]  # grass-ish/soil background
        base[3] = 0.30
        crowd, vehicle = grid.zone_masks["square"], grid.zone_masks["parking"]
        base[:, crowd] = np.array([0.22, 0.24, 0.25, 0.28], np.float32)[:, None]  # concrete
        base[:, vehicle] = np.array([0.07, 0.075, 0.08, 0.10], np.float32)[:, None]  # asphalt
        texture = rng.normal(0, 0.01, (4, h, w)).astype(np.float32)
        t0 = datetime(2025, 5, 1, 2, 15, 30, tzinfo=UTC)
        kinds = ["none"] * quiet + list(formations)
        for i, kind in enumerate(kinds):
            gain = rng.uniform(0.9, 1.1)
            refl = (base + texture) * gain + rng.normal(0, 0.004, (4, h, w)).astype(np.float32)
            scl = np.where(crowd | vehicle, 5, 4).astype(np.uint8)
            if kind == "crowd":
                rows, cols = np.nonzero(crowd)
                r0, c0 = rows.min() + 4, cols.min() + 4
                for br in range(2):
                    for bc in range(4):
                        r, c = r0 + 5 * br, c0 + 4 * bc
                        refl[:3, r : r + 2, c : c + 2] = 0.05 * gain
                        refl[3, r : r + 2, c : c + 2] = 0.15 * gain
            elif kind == "vehicle":
                rows, cols = np.nonzero(vehicle)
                r0, c0 = rows.min() + 3, cols.min() + 3
                for k in range(4):
                    refl[:3, r0 + 3 * k, c0 : c0 + 12] = 0.06 * gain
                    refl[3, r0 + 3 * k, c0 : c0 + 12] = 0.22 * gain
            elif kind == "cloud":
                refl[:] = 0.6
                scl[:] = 9
            stamp = (t0 + timedelta(days=5 * i)).strftime("%Y%m%dT%H%M%S")
            write_s2(imagery / f"S2_{stamp}.tif", refl, grid.transform, grid.crs, scl)
        return config_path

    return build


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m monitor ARGS`` as a subprocess, the way cron would."""
    full_env = {**os.environ, **(env or {})}
    # import the package under test from this checkout, whatever the editable install points at
    root = str(Path(__file__).resolve().parent.parent)
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (root, full_env.get("PYTHONPATH", "")) if p)
    full_env.pop("MONITOR_CONFIG", None) if env is None or "MONITOR_CONFIG" not in env else None
    # the child is not under pytest-socket: any host but this machine goes to a proxy that refuses
    # (requests and GDAL's libcurl both honour these), unless the test names a proxy setting itself
    if not any(v in full_env for v in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")):
        for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
            full_env[name] = "http://127.0.0.1:9"
        for name in ("no_proxy", "NO_PROXY"):
            full_env[name] = ",".join(filter(None, ["127.0.0.1,localhost,::1", full_env.get(name, "")]))
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def invoke(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``monitor ARGS`` in this process with click's CliRunner: what :func:`run_cli` returns, without the
    interpreter start-up (seconds per call). For the tests where a separate process proves nothing more;
    cron-like runs, the lock and import-time checks keep :func:`run_cli`."""
    import logging

    from click.testing import CliRunner

    from monitor.cli.main import cli

    environment: dict[str, str | None] = {"MONITOR_CONFIG": None, **(env or {})}
    with contextlib.chdir(cwd or Path.cwd()):
        result = CliRunner(env=environment).invoke(cli, list(args), prog_name="monitor", catch_exceptions=False)
    # the CLI points its log handlers at the runner's streams, closed now: take them off again
    logging.getLogger("monitor").handlers.clear()
    logging.getLogger("monitor").propagate = True
    top = logging.getLogger()
    top.handlers[:] = [h for h in top.handlers if h.get_name() != "monitor-libraries"]
    return subprocess.CompletedProcess(["monitor", *args], result.exit_code or 0, result.stdout, result.stderr)


# --- a real SMTP server on 127.0.0.1 (aiosmtpd), with TLS from a throwaway CA (trustme) -------------------


def free_port() -> int:
    """A local TCP port with nothing listening on it (bound once by the OS, then released)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SMTPServer:
    """A running aiosmtpd server: ``messages`` (raw bytes), ``sessions`` (whether each used TLS, who logged in)."""

    def __init__(self, port: int, mode: str, ca_file: Path, cert: object, users: dict[str, str] | None) -> None:
        import ssl

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.port, self.mode, self.ca_file = port, mode, ca_file
        self.messages: list[bytes] = []
        self.sessions: list[dict[str, object]] = []
        server = self

        class Handler:
            async def handle_DATA(self, smtp, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802 (aiosmtpd's name)
                server.messages.append(envelope.original_content or envelope.content)
                tls = session.ssl is not None or smtp.transport.get_extra_info("ssl_object") is not None
                server.sessions.append({"tls": tls, "user": session.auth_data, "rcpt": list(envelope.rcpt_tos)})
                return "250 OK"

        def authenticator(smtp, session, envelope, mechanism, data):  # type: ignore[no-untyped-def]
            ok = isinstance(data, LoginPassword) and users is not None
            ok = ok and users.get(data.login.decode()) == data.password.decode()  # type: ignore[union-attr]
            return AuthResult(success=bool(ok), handled=False, auth_data=data.login.decode() if ok else None)

        kwargs: dict[str, object] = {}
        if mode in {"starttls", "tls"}:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(context)  # type: ignore[attr-defined]
            kwargs["ssl_context" if mode == "tls" else "tls_context"] = context
            if mode == "starttls":
                kwargs["require_starttls"] = True
        if users is not None:
            kwargs.update(authenticator=authenticator, auth_required=True)
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port, **kwargs)

    def start(self) -> SMTPServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[Callable[..., SMTPServer]]:
    """Start a real SMTP server: ``smtp_server(mode="none"|"starttls"|"tls", port=None, users=None,
    start=True)``. TLS certificates come from a throwaway CA whose PEM is at ``server.ca_file``."""
    trustme = pytest.importorskip("trustme")
    pytest.importorskip("aiosmtpd")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    servers: list[SMTPServer] = []

    def start(
        mode: str = "none", port: int | None = None, users: dict[str, str] | None = None, start: bool = True
    ) -> SMTPServer:
        server = SMTPServer(port or free_port(), mode, ca_file, cert, users)
        servers.append(server)
        return server.start() if start else server

    yield start
    for server in servers:
        with contextlib.suppress(AssertionError, RuntimeError):  # never started
            server.stop()


@pytest.fixture(autouse=True)
def _fresh_gdal_confinement(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no host allowed to GDAL yet (the allowance is process-wide, see gdal_env.confine)."""
    from monitor.sources import gdal_env

    monkeypatch.setattr(gdal_env, "_confined", set())
    for name in ("no_proxy", "NO_PROXY"):
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])  # restored after the test, whatever a source set
        else:
            monkeypatch.setenv(name, "")
            monkeypatch.delenv(name)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``network`` tests (run only with ``-m network``) may reach the internet; every other test only 127.0.0.1."""
    for item in items:
        if item.get_closest_marker("network"):
            item.add_marker(pytest.mark.enable_socket)


# --- the demo archive, built once per test session and shared by every xdist worker ---------------------


class DemoBuild:
    """``monitor demo --out out`` as run once for the whole session (with ``MONITOR_DATA_DIR`` pointing at
    ``elsewhere``, which the demo must ignore): its folder, stdout and stderr."""

    def __init__(self, out: Path, stdout: str, stderr: str, elsewhere: Path) -> None:
        self.out, self.stdout, self.stderr, self.elsewhere = out, stdout, stderr, elsewhere


@pytest.fixture(scope="session")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> DemoBuild:
    """The demo, built by the first worker that asks (a file lock in the session's shared temp folder), read
    by the others: the slowest end-to-end run of the suite happens once, not once per test module."""
    import json

    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / "shared-demo"
    done = shared / "shared-demo.json"
    elsewhere = root / "archive-named-by-the-environment"
    with FileLock(str(shared / "shared-demo.lock")):
        if not done.exists():
            root.mkdir(exist_ok=True)
            result = run_cli("demo", "--out", str(root / "monitor-demo"), env={"MONITOR_DATA_DIR": str(elsewhere)})
            assert result.returncode == 0, result.stderr
            done.write_text(json.dumps({"stdout": result.stdout, "stderr": result.stderr}))
    record = json.loads(done.read_text())
    return DemoBuild(
        root / "monitor-demo", record["stdout"], record["stderr"], root / "archive-named-by-the-environment"
    )


@pytest.fixture(autouse=True)
def _restore_monitor_logger() -> Iterator[None]:
    """In-process CLI runs (CliRunner) set up the ``monitor`` logger for a terminal (own handler, no
    propagation); put it back so later tests' ``caplog`` still sees the monitor's records."""
    import logging

    logger = logging.getLogger("monitor")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]
