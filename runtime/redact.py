"""Keeping secrets out of logs: passwords inside URLs and the secret settings.

``redact_url("redis://:pw@host:6379/0")`` -> ``"redis://:***@host:6379/0"``. ``secret_values``
lists every secret string a process knows (secret settings, URL passwords, raw and
percent-decoded), and ``install(settings)`` puts a filter on the root handlers (and the
``tiergate`` logger) that replaces each of them by ``***`` in every record, whichever library
logged it.
"""
from __future__ import annotations

import logging
from dataclasses import fields
from typing import Any, Iterable
from urllib.parse import unquote, urlsplit

MASK = "***"


def url_password(url: Any) -> str | None:
    if not isinstance(url, str) or "@" not in url:
        return None
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return password or None


def redact_url(url: Any) -> Any:
    """The URL with its password (if any) replaced by ``***``; anything else unchanged."""
    password = url_password(url)
    if not password:
        return url
    scheme, rest = url.split("://", 1) if "://" in url else ("", url)
    userinfo, _, tail = rest.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:{MASK}@{tail}" if scheme else f"{user}:{MASK}@{tail}"


def secret_values(settings: Any) -> tuple[str, ...]:
    """Secret settings (fields kept out of ``repr``) and the passwords of every ``*_url`` field."""
    out: set[str] = set()
    for f in fields(settings):
        value = getattr(settings, f.name)
        if not f.repr and isinstance(value, str) and value:
            out.add(value)
        if f.name.endswith("_url"):
            password = url_password(value)
            if password:
                out.update({password, unquote(password)})
    return tuple(sorted((s for s in out if len(s) >= 3), key=len, reverse=True))


class RedactFilter(logging.Filter):
    """Replaces each secret by ``***`` in a record's message, arguments and exception text."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets = tuple(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        self.secrets = tuple(sorted(set(self.secrets) | set(secrets), key=len, reverse=True))

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logged as is
            return True
        clean = self._clean(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            formatted = logging.Formatter().formatException(record.exc_info)
            if self._clean(formatted) != formatted:
                record.exc_info, record.exc_text = None, None
                record.msg = f"{record.msg} (exception text withheld: contained a secret)"
        return True


def install(settings: Any, logger_names: Iterable[str] = ("tiergate",)) -> RedactFilter:
    """Filter the root handlers (present now) and the named loggers; idempotent."""
    secrets = secret_values(settings)
    targets: list[Any] = list(logging.getLogger().handlers)
    targets += [logging.getLogger(name) for name in logger_names]
    shared = None
    for target in targets:
        existing = next((f for f in target.filters if isinstance(f, RedactFilter)), None)
        if existing is None:
            existing = shared or RedactFilter()
            target.addFilter(existing)
        existing.add(secrets)
        shared = shared or existing
    return shared or RedactFilter(secrets)
