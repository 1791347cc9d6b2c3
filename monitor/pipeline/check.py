"""``monitor check``: is every configured service usable, before cron finds out?

One line per check: each source (reachable, credentials accepted: one search, tried once), the SMTP
server (reachable, TLS and login as configured; optionally a test message), each webhook's host
(reachable, TLS handshake; nothing is posted) and ``data_dir`` (writable, archive readable). Nothing
in the archive is changed.
"""

from __future__ import annotations

import os
import socket
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import urlsplit

from monitor.archive.catalogue import Catalogue
from monitor.config import Config, WebhookConfig
from monitor.errors import ConfigError, MonitorError
from monitor.notify.envelope import envelope
from monitor.notify.outbox import smtp_session
from monitor.notify.webhook import display_url
from monitor.sources import IncrementalSource, make_source
from monitor.sources.retry import RetryPolicy

#: How far back a remote source's check search looks: long enough to hold a Sentinel-2 overpass.
SEARCH_WINDOW = timedelta(days=30)
#: One try: a check reports what is wrong now, it does not wait for it to pass.
ONCE = RetryPolicy(attempts=1)


@dataclass(frozen=True)
class CheckResult:
    """One check: what was checked, whether it passed, and what was found (or what is wrong)."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        """``ok    source earth-search: ...`` / ``FAIL  smtp ...``."""
        return f"{'ok' if self.ok else 'FAIL':<5} {self.name}: {self.detail}"


def check_sources(config: Config, now: datetime | None = None) -> Iterator[CheckResult]:
    """One search per source over the first site (remote sources: the last :data:`SEARCH_WINDOW`)."""
    now = now or datetime.now(UTC)
    site = config.sites[0]
    for index, source_config in enumerate(config.sources):
        name = f"source {source_config.name}"
        try:
            source = make_source(source_config, origin=str(config.path or ""), index=index, retry=ONCE)
            start = now - SEARCH_WINDOW if isinstance(source, IncrementalSource) else None
            refs = source.search(site, start, now if start else None)
        except (MonitorError, ConfigError) as exc:
            yield CheckResult(name, False, str(exc))
            continue
        window = f"since {start:%Y-%m-%d}" if start else "in all"
        yield CheckResult(name, True, f"search answered: {len(refs)} scene(s) over site {site.id} {window}")


def check_smtp(config: Config, send_test: bool = False) -> CheckResult:
    """Connect, TLS and login as configured; with ``send_test`` a short message to ``[email] recipients``."""
    email = config.email
    name = f"smtp {email.smtp_host}:{email.smtp_port}"
    if not email.enabled:
        if send_test:
            return CheckResult(name, False, "[email] enabled = false: no test message can be sent")
        return CheckResult(
            "smtp", True, f"[email] enabled = false: messages are written to {config.data_dir / 'outbox'}"
        )
    creds = config.credentials
    login = creds.smtp_user is not None and creds.smtp_password is not None
    try:
        with smtp_session(config) as smtp:
            sock = smtp.sock
            tls = sock.version() if isinstance(sock, ssl.SSLSocket) else None
            done = [f"{email.security} ({tls})" if tls else "no TLS (security = none)"]
            done.append("login accepted" if login else "no login (MONITOR_SMTP_USER/PASSWORD not set)")
            if send_test:
                refused = smtp.send_message(_test_message(config))
                accepted = [r for r in email.recipients if r not in refused]
                done.append(f"test message sent to {', '.join(accepted)}")
                if refused:
                    return CheckResult(name, False, "; ".join([*done, f"refused: {', '.join(refused)}"]))
    except MonitorError as exc:
        return CheckResult(name, False, str(exc))
    return CheckResult(name, True, "; ".join(done))


def _test_message(config: Config) -> EmailMessage:
    msg = envelope(
        "monitor: test message (monitor check --send-test-email)",
        config.email.sender,
        config.email.recipients,
        make_msgid("monitor-check", domain=config.email.sender.rpartition("@")[2] or None),
    )
    msg.set_content(
        "This is a test message from `monitor check --send-test-email`.\n"
        f"Config: {config.path}\nIf you read this, alert messages from this monitor reach you.\n"
    )
    return msg


def check_webhook(hook: WebhookConfig) -> CheckResult:
    """The webhook's host answers on its port (and completes a TLS handshake for https); nothing is posted."""
    assert hook.url is not None
    url = hook.url.get_secret_value()
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    name = f"webhook {hook.name} ({display_url(url)})"
    try:
        with socket.create_connection((host, port), timeout=hook.timeout) as sock:
            if parts.scheme == "https":
                with ssl.create_default_context().wrap_socket(sock, server_hostname=host) as tls:
                    return CheckResult(name, True, f"reachable, {tls.version()}; nothing posted")
    except (OSError, ssl.SSLError) as exc:
        return CheckResult(name, False, f"cannot reach {host}:{port}: {exc}")
    return CheckResult(name, True, "reachable; nothing posted")


def check_data_dir(config: Config) -> CheckResult:
    """``data_dir`` (or the folder it will be created in) is writable, and its archive opens."""
    data_dir = config.data_dir
    name = f"data_dir {data_dir}"
    if not data_dir.exists():
        parent = next((p for p in data_dir.parents if p.exists()), Path("/"))
        if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
            return CheckResult(name, True, f"does not exist yet; the first run creates it in {parent} (writable)")
        return CheckResult(name, False, f"does not exist, and {parent} is not writable to create it")
    if not data_dir.is_dir():
        return CheckResult(name, False, "is not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".monitor-check-"):
            pass
    except OSError as exc:
        return CheckResult(name, False, f"not writable: {exc.strerror or exc}")
    if not (data_dir / Catalogue.FILENAME).exists():
        return CheckResult(name, True, "writable; no archive yet")
    try:
        with Catalogue(data_dir, readonly=True) as catalogue:
            version = catalogue.schema_version()
            scenes = len(catalogue.scenes())
    except MonitorError as exc:
        return CheckResult(name, False, f"writable, but the archive cannot be read: {exc}")
    return CheckResult(name, True, f"writable; archive schema {version} with {scenes} scene(s)")


def run_checks(config: Config, *, send_test_email: bool = False) -> list[CheckResult]:
    """Every check, in order: data_dir, sources, SMTP, webhooks."""
    results = [check_data_dir(config), *check_sources(config), check_smtp(config, send_test_email)]
    results += [check_webhook(h) for h in config.notify.webhooks]
    return results
