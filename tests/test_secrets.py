"""Credentials never leave the process (issue 13, "Secrets"): the whole pipeline runs at -vvv with sentinel
secret values against the local stand-ins (Sentinel Hub over TLS, the Planetary Computer's SAS endpoint and
blob storage, an SMTP server with login over STARTTLS), and every byte written is scanned: stdout, stderr,
every file under the test's folder (data_dir with its database, crops, evidence and outbox; a report),
and the messages the SMTP server received."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rasterio.warp import transform_bounds

from monitor.redact import MASK, redact, register
from tests.conftest import run_cli
from tests.servers.blob import BlobStorage
from tests.servers.http import Server
from tests.servers.sentinelhub import SentinelHubStandIn
from tests.servers.stac import StacApi, pc_item
from tests.servers.world import REFLECTANCE, TILE_PX, World, _tile

trustme = pytest.importorskip("trustme")

SH_SECRET = "sh-secret-Zq81xK3mW0"
SMTP_PASSWORD = "smtp-pass-Hv27cLp9Q"
PC_KEY = "pc-subscription-Rt55Yb0e"


def test_redact_masks_signatures_tokens_and_known_values() -> None:
    register("run-time-token-abcdef")
    text = (
        "cannot read https://acct.blob.core.windows.net/c/B04.tif?st=2025&se=2026&sp=rl&sig=AbC%2Bd%3D: 404; "
        "https://b.s3.amazonaws.com/x?X-Amz-Credential=AKIA1&X-Amz-Signature=f00d; "
        '{"access_token": "eyJhbGciOi.x.y", "token_type": "Bearer"}; Authorization: Bearer eyJabc.def.ghi; '
        "client_secret=hunter22&grant_type=client_credentials; run-time-token-abcdef"
    )
    clean = redact(text, env={"SH_CLIENT_SECRET": "hunter22"})
    for secret in ("AbC%2Bd%3D", "AKIA1", "f00d", "eyJhbGciOi", "eyJabc", "hunter22", "run-time-token-abcdef"):
        assert secret not in clean, (secret, clean)
    assert "sp=rl" in clean and "B04.tif" in clean and clean.count(MASK) >= 7


def _pc_items(api: StacApi, blob: BlobStorage, world: World, when: datetime, missing: bool = False) -> None:
    """One overpass in the Planetary Computer's shape (two tiles); ``missing``: its red band is not stored."""
    for code in ("51SYD", "52SBJ"):
        crs, left, top = world.tiles[code]
        cogs = _tile(crs, left, top, tuple(sorted(REFLECTANCE.items())), 1000, 4)
        hrefs = {}
        for band, payload in cogs.items():
            path = f"/sentinel2-l2/{code}/{when:%Y/%m/%d}/{band}.tif"
            if not (missing and band == "B04"):
                blob.files.files[f"/sentinel2l2a01.blob.core.windows.net{path}"] = payload
            hrefs[band] = f"http://sentinel2l2a01.blob.core.windows.net{path}"
        bbox = transform_bounds(crs, "EPSG:4326", left, top - TILE_PX * 10, left + TILE_PX * 10, top)
        api.items.append(
            pc_item(tile=code, when=when, platform="Sentinel-2A", orbit=89, bbox=bbox, hrefs=hrefs, epsg=int(crs[5:]))
        )


@pytest.mark.slow
def test_no_secret_is_written_anywhere_at_full_verbosity(tmp_path: Path, synthetic_site: Any, smtp_server: Any) -> None:
    from tests.test_sentinelhub import add_s2

    config_path = synthetic_site()  # local imagery with formations: alerts, evidence, an email
    smtp = smtp_server("starttls", users={"analyst-login": SMTP_PASSWORD})
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    bundle = tmp_path / "sh-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    sh = SentinelHubStandIn(client_id="sh-client", client_secret=SH_SECRET)
    blob, api = BlobStorage(), StacApi()
    now = datetime.now(UTC).replace(microsecond=0)
    with Server(sh, tls=context) as sh_server, Server(blob) as blob_server, Server(api) as stac_server:
        api.base = stac_server.url
        from monitor.config import SiteConfig
        from monitor.grid import site_grid
        from tests.conftest import SITE_BBOX

        grid = site_grid(SiteConfig(id="test-site", bbox=SITE_BBOX))
        world = World(grid=grid, files=blob_server, stac=stac_server, api=api, store=blob.files)
        world.layout()
        _pc_items(api, blob, world, now - timedelta(days=20))
        _pc_items(api, blob, world, now - timedelta(days=15), missing=True)  # fails, quoting its signed URL
        add_s2(sh, grid, now - timedelta(days=10))
        text = config_path.read_text().replace(
            '[[sources]]\nkind = "local"\npath = "imagery"',
            '[[sources]]\nkind = "local"\npath = "imagery"\n\n'
            f'[[sources]]\nkind = "planetary-computer"\nurl = "{stac_server.url}"\ncollections = ["sentinel-2-l2a"]\n\n'
            f'[[sources]]\nkind = "sentinelhub"\nbase_url = "{sh_server.url}"\n'
            f'token_url = "{sh_server.url}/oauth/token"\ncollections = ["sentinel-2-l2a"]\n',
        )
        text += (
            f'\n[email]\nenabled = true\nsmtp_host = "127.0.0.1"\nsmtp_port = {smtp.port}\nsecurity = "starttls"\n'
            f'ca_file = "{smtp.ca_file}"\ntimeout = 5\n'
        )
        config_path.write_text(text)
        env = {
            "SH_CLIENT_ID": "sh-client",
            "SH_CLIENT_SECRET": SH_SECRET,
            "MONITOR_SMTP_USER": "analyst-login",
            "MONITOR_SMTP_PASSWORD": SMTP_PASSWORD,
            "PC_SDK_SUBSCRIPTION_KEY": PC_KEY,
            "PC_SDK_SAS_URL": f"{blob_server.url}/api/sas/v1/token",
            "REQUESTS_CA_BUNDLE": str(bundle),
            "http_proxy": blob_server.url,  # blob host names reach the stand-in, as in test_planetary_computer
            "no_proxy": "127.0.0.1,localhost",
        }
        outputs = [run_cli("-vvv", "run", "--config", str(config_path), env=env)]
        run_result = outputs[0]
        outputs += [
            run_cli("-vvv", "scenes", "--config", str(config_path), "--format", "json", env=env),
            run_cli("-vvv", "alerts", "--config", str(config_path), "--format", "json", env=env),
            run_cli("-vvv", "report", "--config", str(config_path), "--out", str(tmp_path / "report"), env=env),
        ]
        sas = list(blob.issued)
        sh_tokens = list(sh.tokens)

    # the secrets were used: otherwise the scan below proves nothing
    assert run_result.returncode == 0, run_result.stderr[-3000:]
    assert any(s["user"] == "analyst-login" for s in smtp.sessions) and smtp.messages
    assert sas and sh_tokens
    assert "DEBUG requests_oauthlib" in run_result.stderr  # -vvv was in effect, down to the OAuth library
    secrets = [SH_SECRET, SMTP_PASSWORD, PC_KEY, *sas, *sh_tokens]

    written: list[tuple[str, bytes]] = []
    for i, result in enumerate(outputs):
        written += [
            (f"stdout of command {i}", result.stdout.encode()),
            (f"stderr of command {i}", result.stderr.encode()),
        ]
    written += [(str(p), p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file()]
    written += [(f"email {i}", m) for i, m in enumerate(smtp.messages)]
    leaks = [(where, s) for where, data in written for s in secrets if s.encode() in data]
    assert not leaks, leaks[:5]
    # and the failure that quoted the signed URL is still recorded, signature masked
    import json

    failed = [s for s in json.loads(outputs[1].stdout) if s["status"] == "failed"]
    assert failed and all("sig=" not in s["reason"] or "sig=***" in s["reason"] for s in failed), failed
