"""The trigger objects tiergate installs in a Zammad desk (``tiergate install``; the local Zammad
of the demo and tests is configured with the same ones)."""
from __future__ import annotations

from typing import Any

CUSTOMER_SENDER_ID = 2      # Zammad's Ticket::Article::Sender "Customer"


def default_triggers(webhook_id: int, name: str = "tiergate", *, group_change: bool = True) -> list[dict[str, Any]]:
    """The trigger objects tiergate needs in Zammad's shape (conditions + notification.webhook):
    ticket created, customer article, and (``group_change``) group changed."""
    perform = {"notification.webhook": {"webhook_id": str(webhook_id)}}
    base = {"perform": perform, "active": True, "activator": "action",
            "execution_condition_mode": "always", "disable_notification": True, "note": "tiergate"}
    return [
        {**base, "name": f"{name}: ticket created",
         "condition": {"ticket.action": {"operator": "is", "value": "create"}}},
        {**base, "name": f"{name}: customer article",
         "condition": {"ticket.action": {"operator": "is", "value": "update"},
                       "article.sender_id": {"operator": "is", "value": [str(CUSTOMER_SENDER_ID)]}}},
    ] + ([
        {**base, "name": f"{name}: group changed",
         "condition": {"ticket.action": {"operator": "is", "value": "update"},
                       "ticket.group_id": {"operator": "has changed"}}},
    ] if group_change else [])
