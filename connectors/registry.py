"""Connector lookup by helpdesk name; each desk's module is imported only when used."""
from __future__ import annotations

import importlib

from tiergate.plugin.config import Settings

# helpdesk name -> "module:factory"; factory(settings) -> Connector
CONNECTORS: dict[str, str] = {
    "zendesk": "tiergate.connectors.zendesk:from_settings",
    "zammad": "tiergate.connectors.zammad:from_settings",
}

# helpdesk name -> "module:function"; function(headers, body, secret, now, tolerance) -> Delivery.
# Pure: raises DeliveryError subclasses, checks the signature before parsing the body.
VERIFIERS: dict[str, str] = {
    "zendesk": "tiergate.connectors.zendesk_webhook:verify",
    "zammad": "tiergate.connectors.zammad_webhook:verify",
}


def get_connector(settings: Settings):
    try:
        target = CONNECTORS[settings.helpdesk]
    except KeyError:
        raise ValueError(f"helpdesk: unknown {settings.helpdesk!r}; known: {sorted(CONNECTORS)}") from None
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)(settings)
