"""Zammad triggers: the conditions the local Zammad understands (and refuses others with 422),
their evaluation, and ``default_triggers``, the trigger objects tiergate needs in a Zammad desk."""
from __future__ import annotations

from typing import Any, Mapping

from tiergate.localdesk.zammad.account import SENDER_IDS, ApiError

CONDITION_KEYS = {"ticket.action", "article.sender_id", "article.internal", "ticket.group_id",
                  "ticket.state_id", "ticket.priority_id"}



def check_condition(condition: Any) -> None:
    if not isinstance(condition, Mapping) or not condition:
        raise ApiError(422, "condition: required object")
    for key, spec in condition.items():
        if key not in CONDITION_KEYS:
            raise ApiError(422, f"condition.{key}: not supported by this server "
                                f"(supported: {', '.join(sorted(CONDITION_KEYS))})")
        if not isinstance(spec, Mapping) or "operator" not in spec:
            raise ApiError(422, f"condition.{key}: needs an operator")

def holds(condition: Mapping[str, Any], t: dict, event: dict) -> bool:
    article = event.get("article")

    def values(spec):
        v = spec.get("value")
        return [str(x) for x in (v if isinstance(v, list) else [v])]

    for key, spec in condition.items():
        op = spec.get("operator")
        if key == "ticket.action":
            ok = event["action"] in values(spec)
        elif key == "article.sender_id":
            ok = article is not None and str(article["sender_id"]) in values(spec)
        elif key == "article.internal":
            ok = article is not None and str(article["internal"]).lower() in values(spec)
        elif op == "has changed":
            ok = key.split(".", 1)[1] in event["changed"]
        else:
            ok = str(t.get(key.split(".", 1)[1])) in values(spec)
        if op == "is not":
            ok = not ok
        if not ok:
            return False
    return True


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
                       "article.sender_id": {"operator": "is", "value": [str(SENDER_IDS["Customer"])]}}},
    ] + ([
        {**base, "name": f"{name}: group changed",
         "condition": {"ticket.action": {"operator": "is", "value": "update"},
                       "ticket.group_id": {"operator": "has changed"}}},
    ] if group_change else [])
