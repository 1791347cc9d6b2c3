"""Keeping credentials out of everything the monitor writes: logs, reasons, summaries, errors, the archive.

Two nets, both applied wherever text leaves the process:

* the signatures and tokens that ride in URLs (``sig=`` of an Azure SAS, ``X-Amz-Signature`` of an S3
  pre-signed URL, ``access_token``, ``client_secret`` ...) are masked by name, whatever their value;
* the credentials the monitor was given (``SH_CLIENT_SECRET``, ``MONITOR_SMTP_PASSWORD``,
  ``PC_SDK_SUBSCRIPTION_KEY``; see :data:`SECRET_VARIABLES`) and the tokens it received at run time
  (:func:`register`) are masked by value, wherever they appear.

Values shorter than 6 characters are not masked by value (masking "a" everywhere would garble every
message and protect nothing).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping

MASK = "***"
#: Environment variables whose values are credentials.
SECRET_VARIABLES = ("SH_CLIENT_SECRET", "MONITOR_SMTP_PASSWORD", "PC_SDK_SUBSCRIPTION_KEY")
#: Query-string and form keys whose values are signatures, tokens or secrets.
SECRET_KEYS = (
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "x-goog-signature",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "password",
    "subscription-key",
    "subscription_key",
)
_KEYS = re.compile(
    r"(?P<key>(?<![A-Za-z0-9_-])(?:" + "|".join(re.escape(k) for k in SECRET_KEYS) + r"))(?P<sep>=|%3D|\": ?\"|': ?')"
    r"(?P<value>[^&\s\"'<>,;)]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<key>Bearer\s+)(?P<value>[A-Za-z0-9._~+/=-]{8,})")
_MIN_LENGTH = 6

_lock = threading.Lock()
_known: set[str] = set()


def register(*values: str | None) -> None:
    """Mask these values by value from now on (tokens received at run time, credentials given in code)."""
    with _lock:
        _known.update(v for v in values if v and len(v) >= _MIN_LENGTH)


def _secrets(env: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if env is None else env
    found = {env[v] for v in SECRET_VARIABLES if len(env.get(v) or "") >= _MIN_LENGTH}
    with _lock:
        found |= _known
    return sorted(found, key=len, reverse=True)  # longest first: a secret containing another is masked whole


def redact(text: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` with every credential, signature and token masked as ``***``."""
    if not text:
        return text
    for secret in _secrets(env):
        if secret in text:
            text = text.replace(secret, MASK)
    text = _KEYS.sub(lambda m: f"{m['key']}{m['sep']}{MASK}", text)
    return _BEARER.sub(lambda m: f"{m['key']}{MASK}", text)


def redact_all(texts: Iterable[str]) -> list[str]:
    """:func:`redact` of each text."""
    return [redact(t) for t in texts]


class RedactingFilter(logging.Filter):
    """A logging filter that masks credentials in the message and in any traceback it carries."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = redact(formatted)
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
