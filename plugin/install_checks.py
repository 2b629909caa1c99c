"""What ``tiergate install`` checks and prints before it talks to a desk: the receiver URL (https,
or http for a loopback host only), the webhook endpoint built from it (query and fragment kept),
and request bodies with their secrets masked for ``--dry-run``."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import click


def masked(body: Any) -> Any:
    """``body`` with every value under a key naming a secret or token replaced by ``***`` (what
    ``--dry-run`` prints: the request's shape, never the signing secret)."""
    if isinstance(body, dict):
        return {k: "***" if isinstance(k, str) and ("secret" in k.lower() or "token" in k.lower())
                and isinstance(v, (str, int)) and v not in (None, "") else masked(v) for k, v in body.items()}
    if isinstance(body, list):
        return [masked(v) for v in body]
    return body


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def check_receiver_url(url: str) -> str:
    """The receiver base URL, or ``click.BadParameter``: https only (the helpdesk sends signed
    ticket events there); plain http only for a loopback host (localhost, 127.0.0.0/8, ::1), for
    local desks and tests."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        parts, host = None, ""
    if parts is None or parts.scheme not in ("http", "https") or not host or " " in url:
        raise click.BadParameter("must be an https URL like https://tiergate.example.com", param_hint="--receiver-url")
    loopback = host in LOOPBACK_HOSTS or host.startswith("127.")
    if parts.scheme == "http" and not loopback:
        raise click.BadParameter(f"must use https (http is accepted only for localhost): {parts.scheme}://{host}",
                                 param_hint="--receiver-url")
    return url


def endpoint_url(receiver: str, helpdesk: str) -> str:
    """``<receiver>/webhooks/<helpdesk>``, keeping the receiver's query and fragment in place."""
    parts = urlsplit(receiver)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + f"/webhooks/{helpdesk}"))
