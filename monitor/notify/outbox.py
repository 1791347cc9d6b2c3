"""The outbox: messages are stored in the archive first, then delivered (SMTP, and a JSON POST to each
configured webhook) or written as ``.eml``.

A message that cannot be sent stays ``pending`` and is retried by the next run; a message is marked
``sent`` only after the server accepted it, so it is delivered once.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from monitor.archive.catalogue import Catalogue
from monitor.archive.crops import atomic_write_bytes
from monitor.archive.records import OutboxStatus
from monitor.config import Config
from monitor.errors import NotifyError
from monitor.notify.webhook import post_webhook
from monitor.redact import redact

log = logging.getLogger(__name__)


#: ``recipients`` of an outbox row addressed to a webhook: this prefix, then the webhook's name.
WEBHOOK_PREFIX = "webhook:"


def enqueue(
    catalogue: Catalogue,
    msg: EmailMessage,
    outbox_dir: Path,
    then: Callable[[], None] | None = None,
    webhooks: Sequence[tuple[str, bytes]] = (),
) -> Path:
    """Store a message as ``.eml`` in the outbox folder and record it as pending, idempotent by Message-ID;
    the same for its webhook copies (``webhooks``: name and JSON body each, one outbox row per webhook,
    ``message_id`` the email's plus ``#webhook:<name>``, the body in ``<id>.<name>.json`` beside it).

    ``then`` runs inside the same transaction as the outbox rows (the caller marks its alerts as
    notified there), so a crash leaves either all or none: a message is never queued twice.
    """
    mid = str(msg["Message-ID"])
    stem = mid.strip("<>").split("@")[0]
    path = outbox_dir / f"{stem}.eml"
    if not path.exists():
        atomic_write_bytes(path, msg.as_bytes(policy=policy.SMTP))
    rows = [(mid, str(msg["To"]), path)]
    for name, body in webhooks:
        body_path = outbox_dir / f"{stem}.{name}.json"
        if not body_path.exists():
            atomic_write_bytes(body_path, body)
        rows.append((f"{mid}#{WEBHOOK_PREFIX}{name}", f"{WEBHOOK_PREFIX}{name}", body_path))
    with catalogue.transaction():
        for message_id, recipients, file in rows:
            catalogue.queue_message(message_id, recipients, str(msg["Subject"]), str(file))
        if then is not None:
            then()
    return path


@contextmanager
def smtp_session(config: Config) -> Iterator[smtplib.SMTP]:
    """A connected SMTP session as configured: implicit TLS (``tls``) or STARTTLS (``starttls``, refused if
    the server does not offer it) with certificate and host name checks (the system's CAs, or ``[email]
    ca_file``), plain SMTP only with ``security = "none"``; logged in with ``MONITOR_SMTP_USER`` /
    ``MONITOR_SMTP_PASSWORD`` when both are set. Errors are :class:`NotifyError` naming host and port."""
    email = config.email
    creds = config.credentials
    try:
        context = ssl.create_default_context(cafile=str(email.ca_file) if email.ca_file else None)
    except (ssl.SSLError, OSError) as exc:
        raise NotifyError(f"cannot load the CA file {email.ca_file}: {exc}") from exc
    try:
        smtp: smtplib.SMTP
        if email.security == "tls":
            smtp = smtplib.SMTP_SSL(email.smtp_host, email.smtp_port, timeout=email.timeout, context=context)
        else:
            smtp = smtplib.SMTP(email.smtp_host, email.smtp_port, timeout=email.timeout)
        with smtp:
            if email.security == "starttls":
                smtp.starttls(context=context)
            if creds.smtp_user is not None and creds.smtp_password is not None:
                smtp.login(creds.smtp_user.get_secret_value(), creds.smtp_password.get_secret_value())
            yield smtp
    except (smtplib.SMTPException, OSError) as exc:
        raise NotifyError(f"cannot send via {email.smtp_host}:{email.smtp_port}: {exc}") from exc


def _send(config: Config, msg: EmailMessage) -> None:
    """Send one message over :func:`smtp_session`."""
    with smtp_session(config) as smtp:
        refused = smtp.send_message(msg)
        if refused:
            log.warning("message %s: server refused recipient(s) %s", msg["Message-ID"], ", ".join(refused))


def deliver_pending(catalogue: Catalogue, config: Config) -> tuple[int, int]:
    """Deliver every pending message; returns (delivered, still pending).

    With ``[email] enabled = false`` the ``.eml`` file in the outbox is the delivery: the message is
    marked ``written``.
    """
    done = failed = 0
    hooks = {h.name: h for h in config.notify.webhooks}
    for row in catalogue.outbox(OutboxStatus.PENDING):
        if row.recipients.startswith(WEBHOOK_PREFIX):
            name = row.recipients.removeprefix(WEBHOOK_PREFIX)
            try:
                hook = hooks.get(name)
                if hook is None:
                    raise NotifyError(f"no webhook named {name!r} in the config any more")
                post_webhook(hook, Path(row.path).read_bytes())
            except (NotifyError, OSError) as exc:
                failed += 1
                log.warning("message %s not posted, kept in the outbox: %s", row.message_id, exc)
                catalogue.set_delivery_failed(row, str(exc))
                continue
            catalogue.set_delivered(row, OutboxStatus.SENT)
            done += 1
            continue
        if not config.email.enabled:
            catalogue.set_delivered(row, OutboxStatus.WRITTEN)
            done += 1
            continue
        try:
            msg = BytesParser(policy=policy.default).parsebytes(Path(row.path).read_bytes())
            assert isinstance(msg, EmailMessage)
            _send(config, msg)
        except (NotifyError, OSError) as exc:
            failed += 1
            log.warning("message %s not sent, kept in the outbox: %s", row.message_id, exc)
            catalogue.set_delivery_failed(row, redact(str(exc)))
            continue
        catalogue.set_delivered(row, OutboxStatus.SENT)
        done += 1
    return done, failed
