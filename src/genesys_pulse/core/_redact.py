"""Redaction of secrets and tokens from text and log records.

Two layers, both applied by :func:`redact_text`:

1. *Known values*: every registered secret (a client secret, an access
   token) is replaced wherever it occurs, whatever surrounds it.
2. *Patterns* that carry credentials whatever their value:
   ``Bearer <x>``, ``Basic <x>`` (also after another scheme word:
   ``Basic Bearer <x>``), the password in ``scheme://user:<x>@host`` (proxy
   URLs), and ``"access_token": "<x>"`` /
   ``client_secret=<x>`` style key-value pairs (JSON, form bodies, query
   strings, reprs) for the keys in :data:`SENSITIVE_KEYS`.

:class:`RedactingFilter` applies it to :mod:`logging` records. Attach it to
*handlers* (a filter on a logger does not see records propagated from child
loggers): the CLI puts one on its handlers, and the HTTP client adds its
tokens to it as they are issued.

:func:`redacted` (the JSON-able view of a configuration) is defined in
:mod:`genesys_pulse.core.config` and re-exported here.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

from genesys_pulse.core._config_model import Secret, redacted

__all__ = ["MASK", "SENSITIVE_KEYS", "RedactingFilter", "redact_text", "redacted"]

MASK = "***"
"""What a redacted value is replaced with."""

MIN_SECRET_LENGTH = 4
"""Known values shorter than this are not substituted (they would match everywhere);
the patterns still apply to them."""

SENSITIVE_KEYS = (
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "api_key",
    "apikey",
)
"""Keys whose values are masked in ``key=value`` / ``"key": "value"`` forms."""

_SCHEME = r"(?:bearer|basic)"
# A run of scheme words is one prefix: in "Basic Bearer <x>" the credential is
# <x>, not "Bearer" (masking only the first word left <x> in clear).
_AUTH_SCHEME = re.compile(rf"(?i)\b({_SCHEME}(?:\s+{_SCHEME}\b)*)(\s+)[A-Za-z0-9._~+/=-]+")
# scheme://user:password@host (a proxy URL, say): keep the user, mask the password
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/@\s:]*):([^/@\s]*)@")
_KEYS = "|".join(SENSITIVE_KEYS)
# "key": "value"  /  'key': 'value'  (JSON, Python reprs)
_QUOTED_PAIR = re.compile(
    rf"""(?i)(["']?\b(?:{_KEYS})\b["']?\s*[:=]\s*)(["'])((?:\\.|(?!\2).)*)\2"""
)
# key=value  /  key: value  (form bodies, query strings, headers, log text)
_BARE_PAIR = re.compile(
    rf"""(?i)(\b(?:{_KEYS})\b\s*[:=]\s*)(?!["'\s]|\*\*\*|(?:bearer|basic)\s)([^\s&,;"'}}\])]+)"""
)


def _as_text(secret: str | Secret) -> str:
    return secret.reveal() if isinstance(secret, Secret) else secret


def redact_text(text: str, secrets: Iterable[str | Secret] = ()) -> str:
    """Return *text* with every known secret and every credential pattern masked.

    Longer secrets are replaced first, so a secret containing another is
    masked whole. Values shorter than :data:`MIN_SECRET_LENGTH` are skipped.
    """
    values = sorted(
        {v for v in (_as_text(s) for s in secrets) if len(v) >= MIN_SECRET_LENGTH},
        key=len,
        reverse=True,
    )
    text = _mask_values(text, values)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _URL_USERINFO.sub(lambda m: f"{m.group(1)}:{MASK}@", text)
    text = _QUOTED_PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}{m.group(2)}", text)
    text = _BARE_PAIR.sub(lambda m: f"{m.group(1)}{MASK}", text)
    # once more: masking may have joined neighbours into a secret (e.g. one made of "*")
    return _mask_values(text, values)


def _mask_values(text: str, values: list[str]) -> str:
    # Each pass shortens the text (values are longer than MASK), so this ends.
    changed = True
    while changed:
        changed = False
        for v in values:
            if v in text:
                text = text.replace(v, MASK)
                changed = True
    return text


class RedactingFilter(logging.Filter):
    """A :class:`logging.Filter` that masks secrets in every record it passes.

    It renders the message (``msg % args``), the exception text and the stack
    text, redacts them, and stores the results back (``args`` becomes
    ``None``, ``exc_info`` is dropped after its text is kept in
    ``exc_text``), so no later handler or formatter can see the originals.
    Records are never dropped.

    Secrets can be added while running (:meth:`add_secret`), e.g. each new
    access token; it is thread-safe.
    """

    def __init__(self, secrets: Iterable[str | Secret] = (), name: str = "") -> None:
        super().__init__(name)
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        for s in secrets:
            self.add_secret(s)

    def add_secret(self, secret: str | Secret) -> None:
        """Mask *secret* from now on (values shorter than 4 characters are ignored)."""
        value = _as_text(secret)
        if len(value) >= MIN_SECRET_LENGTH:
            with self._lock:
                self._secrets.add(value)

    def discard_secret(self, secret: str | Secret) -> None:
        """Stop tracking *secret* (e.g. a token long expired)."""
        with self._lock:
            self._secrets.discard(_as_text(secret))

    def redact(self, text: str) -> str:
        """Apply :func:`redact_text` with the registered secrets."""
        with self._lock:
            secrets = tuple(self._secrets)
        return redact_text(text, secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact *record* in place; always keep it."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not break logging
            message = f"{record.msg!r} (unformattable arguments)"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        record.exc_info = None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True
