"""`monitor check`: each source (one search), SMTP (TLS, login, test message), webhooks and data_dir,
against real servers on 127.0.0.1 and a refused port."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.cli.main import cli
from tests.conftest import free_port
from tests.servers.http import Handler, Server
from tests.servers.stac import StacApi

SITE = '[[sites]]\nid = "a"\nbbox = [125.84, 39.01, 125.847, 39.0155]\n'


def _config(tmp_path: Path, body: str) -> Path:
    (tmp_path / "imagery").mkdir(exist_ok=True)
    path = tmp_path / "monitor.toml"
    path.write_text(f'[monitor]\ndata_dir = "data"\n{body}\n{SITE}')
    return path


def _check(path: Path, *extra: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, ["check", "--config", str(path), *extra], env=env or {})


def _lines(result: Any) -> list[str]:
    return result.stdout.splitlines()


def test_local_source_and_data_dir_pass(tmp_path: Path) -> None:
    path = _config(tmp_path, '[[sources]]\nkind = "local"\npath = "imagery"\n')
    result = _check(path)
    assert result.exit_code == 0, result.output
    assert _lines(result) == [
        f"ok    data_dir {tmp_path / 'data'}: does not exist yet; the first run creates it in {tmp_path} (writable)",
        f"ok    source local:{tmp_path / 'imagery'}: search answered: 0 scene(s) over site a in all",
        f"ok    smtp: [email] enabled = false: messages are written to {tmp_path / 'data' / 'outbox'}",
    ]
    assert not (tmp_path / "data").exists()  # a check changes nothing
    assert "3 of 3 check(s) passed" in result.stderr


def test_stac_source_reachable_and_refused(tmp_path: Path) -> None:
    api = StacApi()
    with Server(api) as server:
        api.base = server.url
        path = _config(
            tmp_path,
            f'[[sources]]\nkind = "earth-search"\nurl = "{server.url}"\n'
            f'[[sources]]\nkind = "planetary-computer"\nurl = "http://127.0.0.1:{free_port()}/api"\n',
        )
        result = _check(path)
        searches = server.requests("/search")
    assert result.exit_code == 1, result.output
    lines = _lines(result)
    assert lines[1].startswith("ok    source earth-search: search answered: 0 scene(s) over site a since ")
    # a refused connection is the network's answer, said with the hint (issue 12 §3), not retried
    assert (
        lines[2]
        == "FAIL  source planetary-computer: cannot reach 127.0.0.1: check the network or proxy (connection refused)"
    )
    assert len(searches) == 1  # one search, not a retry storm


def test_sentinelhub_without_credentials_fails_naming_the_variables(tmp_path: Path) -> None:
    path = _config(tmp_path, '[[sources]]\nkind = "sentinelhub"\n')
    result = _check(path, env={"SH_CLIENT_ID": "", "SH_CLIENT_SECRET": "", "SH_PROFILE": "", "HOME": str(tmp_path)})
    assert result.exit_code == 1
    (line,) = [x for x in _lines(result) if x.startswith("FAIL  source")]
    assert line.startswith("FAIL  source sentinelhub: ") and "SH_CLIENT_ID" in line


def _smtp(tmp_path: Path, port: int, ca_file: Path, security: str = "starttls") -> Path:
    return _config(
        tmp_path,
        '[[sources]]\nkind = "local"\npath = "imagery"\n'
        f'[email]\nenabled = true\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\nsecurity = "{security}"\n'
        f'ca_file = "{ca_file}"\ntimeout = 5\nrecipients = ["duty@example.org"]\n',
    )


def test_smtp_tls_login_and_test_message(tmp_path: Path, smtp_server: Any) -> None:
    server = smtp_server("starttls", users={"watch": "s3cret"})
    path = _smtp(tmp_path, server.port, server.ca_file)
    env = {"MONITOR_SMTP_USER": "watch", "MONITOR_SMTP_PASSWORD": "s3cret"}
    result = _check(path, env=env)
    assert result.exit_code == 0, result.output
    (line,) = [x for x in _lines(result) if x.split()[1] == "smtp"]
    assert line.startswith(f"ok    smtp 127.0.0.1:{server.port}: starttls (TLSv1.") and "login accepted" in line
    assert server.messages == []  # no message without --send-test-email
    sent = _check(path, "--send-test-email", env=env)
    assert sent.exit_code == 0, sent.output
    assert "test message sent to duty@example.org" in sent.stdout
    assert len(server.messages) == 1 and server.sessions[0]["tls"] is True and server.sessions[0]["user"] == "watch"
    assert b"monitor check --send-test-email" in server.messages[0]
    wrong = _check(path, env={**env, "MONITOR_SMTP_PASSWORD": "guess"})
    assert wrong.exit_code == 1 and "FAIL  smtp 127.0.0.1" in wrong.stdout and "535" in wrong.stdout
    assert "s3cret" not in wrong.output and "guess" not in wrong.output


def test_smtp_refused_port_and_a_server_without_tls(tmp_path: Path, smtp_server: Any) -> None:
    plain = smtp_server("none")
    path = _smtp(tmp_path, free_port(), plain.ca_file)
    refused = _check(path)
    assert refused.exit_code == 1 and "FAIL  smtp 127.0.0.1:" in refused.stdout and "refused" in refused.stdout
    no_tls = _check(_smtp(tmp_path, plain.port, plain.ca_file))  # starttls asked, the server does not offer it
    assert no_tls.exit_code == 1 and "STARTTLS extension not supported" in no_tls.stdout
    disabled = _check(_config(tmp_path, '[[sources]]\nkind = "local"\npath = "imagery"\n'), "--send-test-email")
    assert disabled.exit_code == 1 and "[email] enabled = false: no test message can be sent" in disabled.stdout


def test_webhook_hosts_are_reached_without_posting(tmp_path: Path) -> None:
    def app(handler: Handler, method: str, path: str, body: bytes) -> None:
        handler.reply(200, b"ok")

    with Server(app) as server:
        path = _config(
            tmp_path,
            '[[sources]]\nkind = "local"\npath = "imagery"\n'
            f'[[notify.webhooks]]\nname = "up"\nurl = "{server.url}/hook/secret-part"\n'
            f'[[notify.webhooks]]\nname = "down"\nurl = "http://127.0.0.1:{free_port()}/hook/secret-part"\n',
        )
        result = _check(path)
        assert server.log == []  # reachable means a TCP connection, not a message in the channel
    assert result.exit_code == 1
    up, down = (x for x in _lines(result) if x.split()[1] == "webhook")
    assert up.startswith(f"ok    webhook up ({server.url}/…): reachable")
    assert down.startswith("FAIL  webhook down (http://127.0.0.1:") and "cannot reach" in down
    assert "secret-part" not in result.output


def test_data_dir_that_is_a_file_fails(tmp_path: Path) -> None:
    path = _config(tmp_path, '[[sources]]\nkind = "local"\npath = "imagery"\n')
    (tmp_path / "data").write_text("not a folder")
    result = _check(path)
    assert result.exit_code == 1 and _lines(result)[0] == f"FAIL  data_dir {tmp_path / 'data'}: is not a folder"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_data_dir_fails(tmp_path: Path) -> None:
    path = _config(tmp_path, '[[sources]]\nkind = "local"\npath = "imagery"\n')
    (tmp_path / "data").mkdir()
    (tmp_path / "data").chmod(0o555)
    try:
        result = _check(path)
    finally:
        (tmp_path / "data").chmod(0o755)
    assert result.exit_code == 1 and "not writable" in _lines(result)[0]
