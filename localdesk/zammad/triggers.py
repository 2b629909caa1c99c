"""Zammad triggers in the local Zammad: the conditions it understands (others are refused with
422) and their evaluation against a ticket event."""
from __future__ import annotations

from typing import Any, Mapping

from tiergate.localdesk.zammad.account import ApiError

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
