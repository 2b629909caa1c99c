"""Connector and webhook-verifier lookup by helpdesk name."""
from __future__ import annotations

from typing import Any, Callable

from tiergate.connectors import zammad, zammad_webhook, zendesk, zendesk_webhook
from tiergate.connectors.connection import DeskConnection

# helpdesk name -> factory(connection: DeskConnection) -> Connector
CONNECTORS: dict[str, Callable[[DeskConnection], Any]] = {
    "zendesk": zendesk.from_connection,
    "zammad": zammad.from_connection,
}

# helpdesk name -> verify(headers, body, secret, now, tolerance) -> Delivery.
# Pure: raises DeliveryError subclasses, checks the signature before parsing the body.
VERIFIERS: dict[str, Callable[..., Any]] = {
    "zendesk": zendesk_webhook.verify,
    "zammad": zammad_webhook.verify,
}


def get_connector(connection: DeskConnection):
    """The connector for ``connection.helpdesk``, built from ``connection``."""
    try:
        factory = CONNECTORS[connection.helpdesk]
    except KeyError:
        raise ValueError(f"helpdesk: unknown {connection.helpdesk!r}; known: {sorted(CONNECTORS)}") from None
    return factory(connection)
