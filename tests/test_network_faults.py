"""Network faults the sources issue did not list (issue 13) and the offline case (issue 12 §3): DNS failure
and connection refusal fail fast with one line per source; a server that hangs mid-body, a TLS failure, an
endless 429 from Sentinel Hub and a slow run past its deadline all end in bounded time."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.archive.catalogue import Catalogue
from monitor.config import SiteConfig, SourceConfig, load_config
from monitor.errors import ConfigError, SourceError
from monitor.pipeline.run import run
from monitor.sources.reach import UnreachableError
from monitor.sources.retry import RetryPolicy
from monitor.sources.stac import EarthSearchSource, StacSource
from tests.conftest import ROOT, SITE_BBOX, free_port, run_cli, write_config
from tests.servers.http import Server
from tests.servers.stac import StacApi
from tests.servers.world import World, serve_world

FAST_GDAL = {"GDAL_HTTP_RETRY_DELAY": "0.1", "GDAL_HTTP_TIMEOUT": "2", "GDAL_HTTP_CONNECTTIMEOUT": "2"}
FAST_RETRY = RetryPolicy(attempts=3, backoff=0.05, max_wait=0.2)
SITE = SiteConfig(id="test-site", bbox=SITE_BBOX)


@pytest.fixture
def world() -> Iterator[World]:
    with serve_world() as w:
        yield w


def _two_site_config(tmp_path: Path, sources: str) -> Path:
    path = write_config(tmp_path)
    text = path.read_text().replace('[[sources]]\nkind = "local"\npath = "imagery"', sources)
    text += '\n[[sites]]\nid = "second"\nbbox = [125.70, 39.00, 125.71, 39.01]\n'
    path.write_text(text)
    return path


def test_unreachable_sources_fail_fast_with_one_line_each(tmp_path: Path) -> None:
    refused = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    path = _two_site_config(
        tmp_path,
        f'[[sources]]\nkind = "earth-search"\nurl = "{refused}"\n\n'
        '[[sources]]\nkind = "planetary-computer"\nurl = "https://stac.example.invalid/api/stac/v1"\n',
    )
    started = time.monotonic()
    # no proxy at all (run_cli would add a refusing one): the names resolve, or fail to, as a cron job's would
    result = run_cli("-q", "run", "--config", str(path), env={"http_proxy": "", "https_proxy": ""})
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "monitor: error: cannot reach 127.0.0.1: check the network or proxy (connection refused)",
        "monitor: error: cannot reach stac.example.invalid: check the network or proxy (DNS lookup failed)",
    ], result.stderr
    assert "Traceback" not in result.stderr
    started = time.monotonic()  # what the same imports cost on this machine now (it may be busy)
    imports = "import monitor.cli.main, monitor.pipeline.run, monitor.sources.stac, pystac_client, planetary_computer"
    subprocess.run([sys.executable, "-c", imports], check=True, cwd=ROOT)
    startup = time.monotonic() - started
    # retries would add 1 + 2 + 4 s per source per site (28 s here) and urllib3's own on top
    assert elapsed < 1.5 * startup + 5, (elapsed, startup)


def test_unreachable_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    import pystac_client  # noqa: F401 (imported before the clock starts: the machine may be busy)

    slow = RetryPolicy(attempts=4, backoff=5.0)  # a retry would cost seconds
    src = EarthSearchSource(SourceConfig(kind="earth-search", url=f"http://127.0.0.1:{free_port()}"), retry=slow)
    started = time.monotonic()
    with pytest.raises(UnreachableError, match="connection refused"):
        src.search(SITE, None, None)
    assert time.monotonic() - started < 3.0  # one retry would wait 5 s


def test_a_stac_server_that_hangs_mid_body_costs_bounded_time(world: World) -> None:
    world.add_scene(datetime(2025, 5, 1, 2, 25, 31, tzinfo=UTC))
    world.stac.faults.add("stall", match="/search", times=100, delay=3.0)
    src = EarthSearchSource(SourceConfig(kind="earth-search", url=world.stac.url), retry=FAST_RETRY, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(SourceError):
        src.search(SITE, None, None)
    elapsed = time.monotonic() - started
    # every attempt waits out its 1 s read timeout: bounded by attempts x (retries inside urllib3 + 1) x timeout
    assert elapsed < FAST_RETRY.attempts * (FAST_RETRY.attempts + 1) * 1.5, elapsed


def test_a_cog_server_that_hangs_mid_body_fails_the_scene_in_bounded_time(world: World) -> None:
    world.add_scene(datetime(2025, 5, 1, 2, 25, 31, tzinfo=UTC), tiles=("51SYD",))
    src = EarthSearchSource(
        SourceConfig(kind="earth-search", url=world.stac.url), retry=FAST_RETRY, gdal_options=FAST_GDAL, timeout=2.0
    )
    (ref,) = src.search(SITE, None, None)
    world.files.faults.add("stall", match=r"\.tif", times=10_000, delay=4.0)
    started = time.monotonic()
    with pytest.raises(SourceError):
        src.read(ref, world.grid)
    assert time.monotonic() - started < 60


def test_a_tls_failure_is_one_clear_error_without_retries(tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)  # a CA nobody trusts
    api = StacApi()
    with Server(api, tls=context) as server:
        api.base = server.url
        src = EarthSearchSource(SourceConfig(kind="earth-search", url=server.url), retry=RetryPolicy(attempts=4))
        import pystac_client  # noqa: F401 (imported before the clock starts)

        started = time.monotonic()
        with pytest.raises(UnreachableError, match="TLS certificate not trusted"):
            src.search(SITE, None, None)
        assert time.monotonic() - started < 3.0  # a retry would wait 1 s each, four times
        assert len(server.log) == 0  # the handshake failed: no request was ever sent


# --- the run's deadline ----------------------------------------------------------------------------------


def test_deadline_values(tmp_path: Path) -> None:
    (tmp_path / "imagery").mkdir()
    for value, seconds in (('"45m"', 2700.0), ('"2h"', 7200.0), ("600", 600.0), ('"90 s"', 90.0)):
        path = write_config(tmp_path)
        path.write_text(path.read_text().replace('data_dir = "data"', f'data_dir = "data"\ndeadline = {value}'))
        assert load_config(path).monitor.deadline == seconds
    assert load_config(write_config(tmp_path)).monitor.deadline == 7200.0  # the default
    for bad in ('"soon"', "5", '"9000h"', "true", '"-1h"'):
        path = write_config(tmp_path)
        path.write_text(path.read_text().replace('data_dir = "data"', f'data_dir = "data"\ndeadline = {bad}'))
        with pytest.raises(ConfigError, match=r"monitor\.deadline"):
            load_config(path)


def test_a_run_past_its_deadline_stops_fetching_and_the_next_run_finishes(
    tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(StacSource, "default_retry", FAST_RETRY)
    monkeypatch.setattr(StacSource, "default_gdal_options", FAST_GDAL)
    now = datetime.now(UTC).replace(microsecond=0)
    for days in (30, 25, 20, 15):
        world.add_scene(now - timedelta(days=days), tiles=("51SYD",))
    world.files.latency = 0.05  # a distant server: each scene costs a few hundred ms
    path = write_config(tmp_path)
    path.write_text(
        path.read_text()
        .replace(
            '[[sources]]\nkind = "local"\npath = "imagery"',
            f'[[sources]]\nkind = "earth-search"\nurl = "{world.stac.url}"',
        )
        .replace('data_dir = "data"', 'data_dir = "data"\ndeadline = "1m"')
    )
    config = load_config(path)
    # the deadline passes after the first scene: counted in checks, not in wall time, so a loaded machine
    # cannot make it pass before the search (a wall-clock margin of 0.5 s failed at a load average of 29)
    from monitor.pipeline import deadline as deadline_module

    real = deadline_module.Deadline

    class PassesAfterFirstScene(real):  # type: ignore[misc,valid-type]
        checks = 0

        def passed(self) -> bool:
            type(self).checks += 1
            return type(self).checks > 2  # the check before the search, then the one before the first scene

    run_module = sys.modules["monitor.pipeline.run"]  # (monitor.pipeline.run is also the function's name)
    monkeypatch.setattr(run_module, "Deadline", PassesAfterFirstScene)
    started = time.monotonic()
    first = run(config)
    assert time.monotonic() - started < 20
    assert first.deadline_reached and first.deferred_scenes >= 1 and not first.errors
    assert first.new_scenes + first.deferred_scenes == 4
    monkeypatch.setattr(run_module, "Deadline", real)
    second = run(config)
    assert not second.deadline_reached and second.new_scenes == first.deferred_scenes
    with Catalogue(config.data_dir, readonly=True) as cat:
        assert sorted(r.status.value for r in cat.scenes()) == ["ok"] * 4


# --- Sentinel Hub's own 429 loop ----------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::sentinelhub.exceptions.SHRateLimitWarning")
def test_sentinel_hub_answering_429_forever_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trustme = pytest.importorskip("trustme")
    from monitor.sources import make_source
    from monitor.sources.sentinelhub import SentinelHubSource
    from tests.servers.sentinelhub import SentinelHubStandIn
    from tests.test_sentinelhub import add_s2

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    app = SentinelHubStandIn()
    monkeypatch.setenv("SH_CLIENT_ID", app.client_id)
    monkeypatch.setenv("SH_CLIENT_SECRET", app.client_secret)
    monkeypatch.setattr(SentinelHubSource, "default_retry", FAST_RETRY)
    from monitor.grid import site_grid

    grid = site_grid(SITE)
    with Server(app, tls=context) as server:
        add_s2(app, grid, datetime(2025, 5, 1, 2, 25, 31, tzinfo=UTC))
        source = make_source(
            SourceConfig(kind="sentinelhub", base_url=server.url, token_url=f"{server.url}/oauth/token")
        )
        (ref,) = source.search(SITE, None, None)
        server.faults.add("429", match="/api/v1/process", times=1_000_000, retry_after=20)  # ms, as they send it
        started = time.monotonic()
        with pytest.raises(SourceError, match="429"):
            source.read(ref, grid)
        assert time.monotonic() - started < 10
        assert len(server.requests("/api/v1/process")) == SentinelHubSource.max_429_requests


def _sentinel_hub_config(tmp_path: Path, url: str) -> Path:
    path = write_config(tmp_path)
    path.write_text(
        path.read_text().replace(
            'kind = "local"\npath = "imagery"',
            f'kind = "sentinelhub"\nbase_url = "{url}"\ntoken_url = "{url}/oauth/token"',
        )
    )
    return path


@pytest.mark.parametrize("where", ["/api/v1/process", "/api/v1/catalog"])
def test_a_429_asking_for_an_hour_ends_the_request_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Sentinel Hub gives Retry-After in milliseconds; 3,600,000 is an hour. sentinelhub would sleep the hour
    (x ``max_retries``); the monitor waits no longer than ``max_retry_wait_s``: the process request fails
    the scene (recorded, retried by the next run), the search fails the source, both in seconds."""
    trustme = pytest.importorskip("trustme")
    from monitor.sources.sentinelhub import SentinelHubSource
    from tests.servers.sentinelhub import SentinelHubStandIn
    from tests.test_sentinelhub import add_s2

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    app = SentinelHubStandIn()
    monkeypatch.setenv("SH_CLIENT_ID", app.client_id)
    monkeypatch.setenv("SH_CLIENT_SECRET", app.client_secret)
    monkeypatch.setattr(SentinelHubSource, "default_retry", FAST_RETRY)
    from monitor.grid import site_grid

    with Server(app, tls=context) as server:
        add_s2(app, site_grid(SITE), datetime.now(UTC).replace(microsecond=0) - timedelta(days=5))
        config = load_config(_sentinel_hub_config(tmp_path, server.url))
        server.faults.add("429", match=where, times=1_000_000, retry_after=3_600_000)
        started = time.monotonic()
        summary = run(config)
        took = time.monotonic() - started
        hits = len(server.requests(where))
        server.faults.clear()
        with Catalogue(config.data_dir, readonly=True) as cat:
            scenes = cat.scenes()
        if where == "/api/v1/process":
            (scene,) = scenes
            assert scene.status == "failed" and scene.reason is not None
            assert "asking to wait 3600 s (Retry-After)" in scene.reason and "next run tries again" in scene.reason
            assert hits == 1  # no second request after the 429: not waited for, not retried by our layer
        else:
            assert scenes == [] and any("asking to wait 3600 s" in e for e in summary.errors)
            assert hits == 1  # the first collection's search; the source's search fails with it
        assert took < 30, f"the run took {took:.0f} s"
        again = run(config)  # the service is back: the next run fetches it
        with Catalogue(config.data_dir, readonly=True) as cat:
            assert [s.status for s in cat.scenes()] == ["ok"], again.errors


def test_a_429_wait_within_the_cap_is_honoured() -> None:
    """A short Retry-After is waited for as the service asks (its quota refills), then the read succeeds."""
    from monitor.sources.sentinelhub import RetryAfterTooLongError, bounded_rate_limit

    limit = bounded_rate_limit(2.0)
    limit.update({"Retry-After": "1500"}, default=30_000)
    assert 1.0 < limit.register_next() <= 1.5
    with pytest.raises(RetryAfterTooLongError, match="Retry-After 3 s exceeds the 2 s"):
        limit.update({"Retry-After": "3000"}, default=30_000)
    with pytest.raises(RetryAfterTooLongError):  # no header: sentinelhub's default wait (30 s) is over the cap
        limit.update({}, default=30_000)
    bounded_rate_limit(60.0).update({"Retry-After": "soon"}, default=1_000)  # unreadable: the default wait


def test_sentinel_hub_unreachable_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.sources.sentinelhub import SentinelHubSource

    monkeypatch.setenv("SH_CLIENT_ID", "id")
    monkeypatch.setenv("SH_CLIENT_SECRET", "secret")
    port = free_port()
    source = SentinelHubSource(
        SourceConfig(kind="sentinelhub", base_url=f"https://127.0.0.1:{port}", token_url=f"https://127.0.0.1:{port}/t"),
        retry=RetryPolicy(attempts=4, backoff=5.0),
    )
    import sentinelhub  # noqa: F401 (imported before the clock starts)

    started = time.monotonic()
    with pytest.raises(UnreachableError, match=r"cannot reach 127\.0\.0\.1"):
        source.search(SITE, None, None)
    assert time.monotonic() - started < 3.0  # one retry would wait 5 s
