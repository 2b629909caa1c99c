"""Connector lookup by helpdesk name; each desk's module is imported only when used."""
from __future__ import annotations

import importlib

from tiergate.connectors.connection import DeskConnection

# helpdesk name -> "module:factory"; factory(connection: DeskConnection) -> Connector
CONNECTORS: dict[str, str] = {
    "zendesk": "tiergate.connectors.zendesk:from_connection",
    "zammad": "tiergate.connectors.zammad:from_connection",
}

# helpdesk name -> "module:function"; function(headers, body, secret, now, tolerance) -> Delivery.
# Pure: raises DeliveryError subclasses, checks the signature before parsing the body.
VERIFIERS: dict[str, str] = {
    "zendesk": "tiergate.connectors.zendesk_webhook:verify",
    "zammad": "tiergate.connectors.zammad_webhook:verify",
}


def get_connector(connection: DeskConnection):
    """The connector for ``connection.helpdesk``, built from ``connection``."""
    try:
        target = CONNECTORS[connection.helpdesk]
    except KeyError:
        raise ValueError(f"helpdesk: unknown {connection.helpdesk!r}; known: {sorted(CONNECTORS)}") from None
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)(connection)
