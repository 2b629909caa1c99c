"""The trigger objects tiergate installs in a Zammad desk (``tiergate install``; the local Zammad
of the demo and tests is configured with the same ones).

Besides the triggers that ask for a decision, ``outcome_triggers`` tell tiergate that a ticket
was closed or reopened (Zammad has no built-in satisfaction rating, so there is no rating
trigger). Zammad sends the trigger's name in ``X-Zammad-Trigger``; ``outcome_of_trigger`` reads
the outcome kind from it. Zammad cannot condition on a state's previous value, so the reopened
trigger fires on every change to "open" (from new too); the outcome job re-fetches the ticket and
counts a reopen only after a recorded solve."""
from __future__ import annotations

from typing import Any

CUSTOMER_SENDER_ID = 2      # Zammad's Ticket::Article::Sender "Customer"
CLOSED_STATE_ID, OPEN_STATE_ID = 4, 2    # Zammad's default Ticket::State ids
OUTCOME_SUFFIXES = {": ticket closed": "solved", ": ticket reopened": "reopened"}


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


def outcome_triggers(webhook_id: int, name: str = "tiergate") -> list[dict[str, Any]]:
    """The triggers that report outcomes: state changed to closed, state changed to open.
    ``selective``: Zammad runs them only when the update changed the state."""
    perform = {"notification.webhook": {"webhook_id": str(webhook_id)}}
    base = {"perform": perform, "active": True, "activator": "action",
            "execution_condition_mode": "selective", "disable_notification": True, "note": "tiergate"}
    return [
        {**base, "name": f"{name}: ticket closed",
         "condition": {"ticket.action": {"operator": "is", "value": "update"},
                       "ticket.state_id": {"operator": "is", "value": [str(CLOSED_STATE_ID)]}}},
        {**base, "name": f"{name}: ticket reopened",
         "condition": {"ticket.action": {"operator": "is", "value": "update"},
                       "ticket.state_id": {"operator": "is", "value": [str(OPEN_STATE_ID)]}}},
    ]


def outcome_of_trigger(trigger_name: str | None) -> str | None:
    """``"tiergate: ticket closed"`` -> ``"solved"``; None for a trigger that asks for a decision."""
    for suffix, kind in OUTCOME_SUFFIXES.items():
        if trigger_name and trigger_name.strip().endswith(suffix):
            return kind
    return None
