"""Webhook receivers: real runs, a real HTTP server on 127.0.0.1, the same outbox and once-only delivery."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from monitor.archive import Catalogue
from monitor.config import load_config
from monitor.errors import ConfigError
from monitor.pipeline import run
from tests.servers.http import Handler, Server

SECRET = "T0000/B0000/s3cr3t-token"


class Receiver:
    """A webhook receiver: answers ``status`` (200 unless changed) and keeps every body it accepted."""

    def __init__(self) -> None:
        self.status = 200
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, handler: Handler, method: str, path: str, body: bytes) -> None:
        if self.status == 200:
            self.bodies.append(json.loads(body))
        handler.reply(self.status, b"ok" if self.status == 200 else b"no")


def _with_webhook(config_path: Path, url: str) -> None:
    text = config_path.read_text()
    config_path.write_text(text + f'\n[[notify.webhooks]]\nname = "desk"\nurl = "{url}"\ntimeout = 5\n')


def test_a_failing_webhook_keeps_its_message_and_delivers_it_once(
    synthetic_site: Any, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = Receiver()
    config_path = synthetic_site()
    with Server(receiver) as server:
        _with_webhook(config_path, f"{server.url}/services/{SECRET}?key=hunter2")
        config = load_config(config_path, env={})
        receiver.status = 500
        caplog.set_level(logging.DEBUG, logger="monitor")
        first = run(config)  # the receiver fails: the email copy is written, the webhook copy waits
        assert first.errors == [] and first.messages_queued == 1 and first.messages_pending == 1
        with Catalogue(config.data_dir) as cat:
            rows = {r.recipients: r for r in cat.outbox()}
        hook = rows["webhook:desk"]
        assert hook.status == "pending" and "HTTP 500" in (hook.last_error or "")
        assert rows["analyst@example.org"].status == "written"  # email disabled: the .eml is the delivery
        receiver.status = 200
        second = run(config)
        assert second.messages_queued == 0 and second.messages_delivered == 1 and second.messages_pending == 0
        third = run(config)
        assert third.messages_delivered == 0
        # the URL's host is the only host contacted, and only for the two POSTs
        assert [(e.method, e.path.split("?")[0]) for e in server.log] == [("POST", f"/services/{SECRET}")] * 2
    (body,) = receiver.bodies  # exactly once
    assert body["text"].startswith(hook.subject) and "<li>" in body["html"]
    alerts = body["monitor"]["alerts"]
    assert body["monitor"]["version"] == 1 and body["monitor"]["message_id"] == hook.message_id.split("#")[0]
    assert {a["notice"] for a in alerts} == {"NEW"} and all(a["evidence"].endswith(".png") for a in alerts)
    assert all(Path(a["evidence"]).is_file() for a in alerts)
    # the secret parts of the URL are never logged, nor stored in the outbox's error text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "webhook desk (http://127.0.0.1:" in logged
    for secret in (SECRET, "hunter2"):
        assert secret not in logged and secret not in (hook.last_error or "")


def test_a_refused_port_is_a_pending_message_without_the_url(synthetic_site: Any) -> None:
    from tests.conftest import free_port

    config_path = synthetic_site()
    _with_webhook(config_path, f"http://127.0.0.1:{free_port()}/hook/{SECRET}")
    config = load_config(config_path, env={})
    summary = run(config)
    assert summary.errors == [] and summary.messages_pending == 1
    with Catalogue(config.data_dir) as cat:
        (row,) = [r for r in cat.outbox() if r.recipients == "webhook:desk"]
    error = row.last_error or ""
    assert row.status == "pending" and SECRET not in error and "127.0.0.1" in error


def test_redirects_are_not_followed() -> None:
    from pydantic import SecretStr

    from monitor.config import WebhookConfig
    from monitor.errors import NotifyError
    from monitor.notify.webhook import post_webhook

    def redirect(handler: Handler, method: str, path: str, body: bytes) -> None:
        handler.reply(307, b"", headers={"Location": "http://169.254.169.254/latest/meta-data"})

    with Server(redirect) as server:
        hook = WebhookConfig(name="x", url=SecretStr(f"{server.url}/h"))
        with pytest.raises(NotifyError, match="HTTP 307"):
            post_webhook(hook, b"{}")
        assert len(server.log) == 1


@pytest.mark.parametrize(
    ("hook", "message"),
    [
        ('url = "http://hooks.example.org/x"', "must use https://"),
        ('url = "ftp://127.0.0.1/x"', "must be an absolute https:// URL"),
        ('url = "https://h.example.org/x"\nurl_env = "HOOK"', "either url or url_env"),
        ('url_env = "MONITOR_NO_SUCH_HOOK"', "environment variable MONITOR_NO_SUCH_HOOK is not set"),
        ('url = "https://h.example.org/x"\nheaders = 1', "unknown key"),
    ],
)
def test_webhook_config_errors(tmp_path: Path, hook: str, message: str) -> None:
    (tmp_path / "imagery").mkdir()
    path = tmp_path / "monitor.toml"
    path.write_text(
        '[[sources]]\nkind = "local"\npath = "imagery"\n[[sites]]\nid = "a"\nbbox = [125.84, 39.01, 125.847, 39.0155]\n'
        f'[[notify.webhooks]]\nname = "desk"\n{hook}\n'
    )
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path, env={})
    assert f"{path}: notify.webhooks[0" in str(info.value)


def test_url_env_holds_the_secret(tmp_path: Path) -> None:
    (tmp_path / "imagery").mkdir()
    path = tmp_path / "monitor.toml"
    path.write_text(
        '[[sources]]\nkind = "local"\npath = "imagery"\n[[sites]]\nid = "a"\nbbox = [125.84, 39.01, 125.847, 39.0155]\n'
        '[[notify.webhooks]]\nname = "desk"\nurl_env = "MONITOR_WEBHOOK_DESK"\n'
    )
    config = load_config(path, env={"MONITOR_WEBHOOK_DESK": f"https://hooks.example.org/{SECRET}"})
    (hook,) = config.notify.webhooks
    assert hook.url is not None and hook.url.get_secret_value().endswith(SECRET)
    assert SECRET not in repr(config)
