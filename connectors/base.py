"""The one Protocol every helpdesk connector implements, and the delivery it parses.

``plugin/core``, ``nlp`` and ``jobs`` only ever talk to a helpdesk through ``Connector``; adding a
desk means adding a module here, never changing them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping, Protocol, Sequence, runtime_checkable

from tiergate.plugin.core.model import Ticket, TicketUpdate, _Serial


PING_EVENT = "ping"   # a signed test delivery (``{"tiergate_test": true}``): verified, never enqueued


@dataclass(frozen=True)
class Delivery(_Serial):
    """A verified, parsed inbound webhook: which ticket to look at and a unique delivery id."""

    delivery_id: str     # event id, or a hash of the signed body when the desk gives none
    ticket_id: int
    event_type: str      # e.g. "zen:event-type:ticket.created", "trigger", "zammad"
    helpdesk: str        # connector name
    received_at: datetime | None = None
    detail: Mapping[str, Any] | None = None  # the payload's hints; never trusted as state

    _times = ("received_at",)


@runtime_checkable
class WebhookVerifier(Protocol):
    """Pure (no I/O): headers + raw body + now -> Delivery, or a ``DeliveryError``."""

    def verify_delivery(self, headers: Mapping[str, str], body: bytes, now: datetime) -> Delivery: ...


@runtime_checkable
class Connector(WebhookVerifier, Protocol):
    """Vendor I/O. Raises only the ``ConnectorError`` tree (RateLimited, Conflict, NotFound,
    Unavailable), never vendor exceptions."""

    name: str

    def fetch_ticket(self, ticket_id: int) -> Ticket:
        """The ticket now, with its comments, organization and audited changes."""

    def apply(self, ticket_id: int, update: TicketUpdate, *, expected_updated_at: datetime | None,
              delivery_id: str) -> Ticket:
        """Apply ``update`` in ONE write, refusing with ``Conflict`` if the ticket changed since
        ``expected_updated_at``. Returns the ticket after the write."""

    def apply_many(self, updates: Sequence[tuple[int, TicketUpdate]], *, delivery_id: str) -> None:
        """Bulk write-back (up to ``max_batch`` tickets per call) for bursts."""

    def comments_added(self, update: TicketUpdate) -> int:
        """How many comments writing ``update`` adds to the ticket's thread."""

    def iter_tickets(self, *, updated_since: datetime | None = None,
                     status: Iterable[str] | None = None) -> Iterable[Ticket]:
        """Tickets for sweeps and backfills, oldest first."""

    max_batch: int
