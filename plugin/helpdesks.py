"""The demo's helpdesk: the local compatible server of a desk, with the admin steps the demo needs
(install the webhook + trigger, import example tickets, settings for the connector)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

DEMO_EMAIL = "admin@demo.example"
DEMO_TOKEN = "demo-api-token"
DEMO_SUBDOMAIN = "demo"


@dataclass
class LocalZendesk:
    """A local Zendesk-compatible server, administered through its public API like a real one."""

    handle: Any

    @classmethod
    def start(cls) -> "LocalZendesk":
        from tiergate.connectors.zendesk_server import start_server

        return cls(start_server(port=0, email=DEMO_EMAIL, token=DEMO_TOKEN))

    def _api(self, method: str, path: str, **kwargs) -> dict:
        r = requests.request(method, f"{self.handle.url}{path}", auth=(f"{DEMO_EMAIL}/token", DEMO_TOKEN),
                             timeout=10, **kwargs)
        r.raise_for_status()
        return r.json() if r.content else {}

    def install_webhook(self, endpoint: str) -> str:
        """Create the webhook and the triggers that call it; return the signing secret."""
        hook = self._api("POST", "/api/v2/webhooks", json={"webhook": {
            "name": "tiergate", "status": "active", "endpoint": endpoint, "http_method": "POST",
            "request_format": "json", "subscriptions": ["conditional_ticket_events"]}})["webhook"]
        secret = self._api("GET", f"/api/v2/webhooks/{hook['id']}/signing_secret")["signing_secret"]["secret"]
        body = '{"ticket_id": "{{ticket.id}}"}'
        for title, conditions in (
            ("tiergate: ticket created", [{"field": "update_type", "operator": "is", "value": "Create"}]),
            ("tiergate: customer comment", [{"field": "update_type", "operator": "is", "value": "Change"},
                                            {"field": "comment_is_public", "operator": "is", "value": "true"},
                                            {"field": "current_via_id", "operator": "is_not", "value": "5"}]),
        ):
            self._api("POST", "/api/v2/triggers", json={"trigger": {
                "title": title, "active": True, "conditions": {"all": conditions, "any": []},
                "actions": [{"field": "notification_webhook", "value": [hook["id"], body]}]}})
        return secret

    def import_example(self, example: dict, now: datetime) -> int:
        return self.handle.import_example(example, now)

    def settings_overrides(self) -> dict[str, Any]:
        return {"zendesk_subdomain": DEMO_SUBDOMAIN, "zendesk_email": DEMO_EMAIL,
                "zendesk_api_token": DEMO_TOKEN, "zendesk_scheme": "http",
                "zendesk_netloc": self.handle.netloc}

    def stop(self) -> None:
        self.handle.stop()


def local_or_configured(helpdesk: str):
    """The demo's desk. Only local compatible servers are started here."""
    if helpdesk == "zendesk":
        return LocalZendesk.start()
    if helpdesk == "zammad":
        from tiergate.connectors.zammad_server import LocalZammad  # written with the Zammad connector

        return LocalZammad.start()
    raise ValueError(f"helpdesk: unknown {helpdesk!r}")
