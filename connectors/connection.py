"""How to reach a helpdesk: the plain values a connector is built from. The application shell fills
one from its settings (``Settings.connection()``); connectors never read the environment."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DeskConnection:
    """Which helpdesk, where, with which credentials; secrets are kept out of ``repr``."""

    helpdesk: str = "zendesk"
    webhook_secret: str | None = field(default=None, repr=False)
    timestamp_tolerance: float = 300.0          # seconds a signed webhook timestamp may be off
    zendesk_subdomain: str | None = None
    zendesk_email: str | None = None
    zendesk_api_token: str | None = field(default=None, repr=False)
    zendesk_scheme: str | None = None          # ZENPY_FORCE_SCHEME, for a local server
    zendesk_netloc: str | None = None          # ZENPY_FORCE_NETLOC
    zendesk_timeout: float = 10.0               # seconds per API request
    zammad_url: str | None = None
    zammad_api_token: str | None = field(default=None, repr=False)
