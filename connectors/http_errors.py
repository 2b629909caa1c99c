"""One mapping from a helpdesk's HTTP answer to tiergate's error tree, shared by every connector.

``status_to_error(status, headers, body)`` returns ``None`` for a success (any status below 400)
and otherwise the one exception the connector raises: 429 → ``RateLimited`` (Retry-After in
seconds or as an HTTP-date; a default when absent or unreadable), 404 → ``NotFound``, 409 and a
422 whose message says the object changed → ``Conflict``, 5xx → ``Unavailable``, anything else →
``ConnectorError`` (retrying cannot fix it). The message names the call, the status and the desk's
own words: ``error_human`` (Zammad), ``error`` + ``description`` (Zendesk), ``message``, or the raw
body when it is not JSON.

Pure: no I/O. The clock is read only for an HTTP-date Retry-After when no ``now`` is given.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Mapping

from tiergate.plugin.core.errors import Conflict, ConnectorError, NotFound, RateLimited, Unavailable

CHANGED_RE = re.compile(r"(?i)changed|stale|conflict|outdated")
MAX_MESSAGE = 300


def status_to_error(status: int, headers: Mapping[str, str] | None, body: bytes | str | None, *,
                    what: str = "helpdesk", default_retry_after: float = 1.0,
                    now: datetime | None = None) -> ConnectorError | None:
    """The error an answer means, or ``None`` when it is a success."""
    if status < 400:
        return None
    message = error_message(body)
    where = f"{what}: {status} {message}".rstrip()
    if status == 429:
        return RateLimited(retry_after(headers, default_retry_after, now), where)
    if status == 404:
        return NotFound(where)
    if status == 409 or (status == 422 and CHANGED_RE.search(message)):
        return Conflict(where)
    if status >= 500:
        return Unavailable(where)
    return ConnectorError(where)


def retry_after(headers: Mapping[str, str] | None, default: float = 1.0, now: datetime | None = None) -> float:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), never negative."""
    raw = _header(headers, "Retry-After").strip()
    if not raw:
        return default
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        at = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return default
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return max(0.0, (at - (now or datetime.now(timezone.utc))).total_seconds())


def error_message(body: bytes | str | None) -> str:
    """The desk's own words about an error, at most ``MAX_MESSAGE`` characters."""
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else str(body)
    try:
        data: Any = json.loads(text)
    except ValueError:
        return text.strip()[:MAX_MESSAGE]
    if isinstance(data, Mapping):
        return _from_mapping(data)[:MAX_MESSAGE]
    return text.strip()[:MAX_MESSAGE]


def _from_mapping(data: Mapping[str, Any]) -> str:
    if data.get("error_human"):
        return str(data["error_human"])
    error = data.get("error")
    if isinstance(error, Mapping):            # {"error": {"title": ..., "message": ...}}
        return _from_mapping({"error": error.get("title"), "description": error.get("message")})
    parts = [str(p) for p in (error, data.get("description") or data.get("message")) if p]
    if data.get("details"):
        parts.append(json.dumps(data["details"], separators=(",", ":"), default=str))
    return ": ".join(parts) if parts else json.dumps(data, default=str)


def _header(headers: Mapping[str, str] | None, name: str) -> str:
    if not headers:
        return ""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return str(value)
    return ""
