"""The outcome triggers ``tiergate install`` adds to a Zendesk desk: ticket solved, ticket reopened,
satisfaction score changed. Each notifies the same ``tiergate`` webhook as the decision triggers
with ``{"ticket_id": "{{ticket.id}}", "tiergate_event": "<kind>"}`` (``connectors/outcome_events``);
the receiver queues an outcome job that re-fetches the ticket and records it in the decision log.
Created triggers go into the install record like the others, so ``uninstall`` removes them.
(Zammad's outcome triggers are ``connectors/zammad_triggers.outcome_triggers``.)
"""
from __future__ import annotations

from typing import Any, Callable

from tiergate.connectors.outcome_events import trigger_body

ZENDESK_OUTCOME_TRIGGERS: tuple[tuple[str, str, dict[str, list[dict[str, Any]]]], ...] = (
    ("tiergate: ticket solved", "solved",
     {"all": [{"field": "status", "operator": "value", "value": "solved"}], "any": []}),
    ("tiergate: ticket reopened", "reopened",
     {"all": [{"field": "status", "operator": "value", "value": "open"}],
      "any": [{"field": "status", "operator": "value_previous", "value": "solved"},
              {"field": "status", "operator": "value_previous", "value": "closed"}]}),
    ("tiergate: satisfaction rated", "satisfaction",
     {"all": [{"field": "satisfaction_score", "operator": "changed", "value": None}], "any": []}),
)


def install_zendesk_outcome_triggers(desk: Any, report: Any, hook_id: Any, existing: dict[str, dict],
                                     upsert: Callable[..., Any]) -> None:
    """Create (or update, by title) the outcome triggers; ``existing`` maps title -> trigger and
    ``upsert`` is the installer's create-or-update (``install._upsert``)."""
    for title, kind, conditions in ZENDESK_OUTCOME_TRIGGERS:
        upsert(desk, report, "triggers", existing.get(title), "/api/v2/triggers", "trigger", {
            "title": title, "active": True,
            "description": f"Tells tiergate the ticket was {'rated' if kind == 'satisfaction' else kind} "
                           "(created by tiergate install)",
            "conditions": conditions,
            "actions": [{"field": "notification_webhook", "value": [hook_id, trigger_body(kind)]}]})
