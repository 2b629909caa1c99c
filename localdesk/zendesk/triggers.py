"""Trigger evaluation in the local Zendesk: the conditions it understands (``conditions.all`` /
``conditions.any``, also accepted as the legacy top-level ``all`` / ``any`` of a trigger body and
answered folded into ``conditions``), placeholder rendering and which ticket events a write
raises."""
from __future__ import annotations

import json
import re
from typing import Any

from tiergate.localdesk.zendesk.account import STATUS_ORDER, VIA_IDS
from tiergate.localdesk.zendesk.errors import ApiError


def trigger_conditions(data: dict) -> dict:
    """``{"all": [...], "any": [...]}`` of a trigger body: ``conditions.all/any``, else the
    top-level ``all``/``any`` (the form Zendesk also accepts); 422 naming the bad condition."""
    given = data.get("conditions")
    if given is not None and not isinstance(given, dict):
        raise ApiError(422, "RecordInvalid", "trigger.conditions: an object with all/any lists is required")
    given = given or {}
    out: dict[str, list] = {}
    for part in ("all", "any"):
        items = given.get(part) if given.get(part) is not None else data.get(part)
        if items is None:
            items = []
        if not isinstance(items, list):
            raise ApiError(422, "RecordInvalid", f"trigger.conditions.{part}: a list is required")
        for n, cond in enumerate(items):
            if not isinstance(cond, dict) or not cond.get("field"):
                raise ApiError(422, "RecordInvalid", f"trigger.conditions.{part}[{n}]: an object with a field is required")
        out[part] = [dict(c) for c in items]
    return out


class TriggerStore:
    """``State`` method that runs the triggers and event subscriptions after a write."""

    def _fire(self, before: dict | None, ticket: dict, comment: dict | None, update_type: str,
              channel: str, actor_id: int | None) -> None:
        """Evaluate triggers and event subscriptions for one write by ``actor_id``; queue deliveries."""
        ctx = {"update_type": update_type, "ticket": ticket, "previous": before, "comment": comment,
               "via_id": VIA_IDS.get(channel, 5), "role": self.role_of(actor_id).replace("-", "_")}
        hooks = self.collections["webhooks"]
        triggers = sorted(self.collections["triggers"].values(), key=lambda t: (t.get("position") or 0, t["id"]))
        for trigger in triggers:
            if not trigger.get("active", True) or not _conditions_hold(trigger.get("conditions") or {}, ctx):
                continue
            for action in trigger.get("actions") or []:
                if action.get("field") != "notification_webhook":
                    continue
                value = action.get("value")
                if isinstance(value, str):
                    value = json.loads(value)
                hook = hooks.get(str(value[0]))
                if hook and hook.get("status") == "active":
                    self._queue(hook, ticket["id"], "trigger:" + trigger["title"], render(value[1], ticket))
        for kind in _event_kinds(before, ticket, comment):
            self._queue_event(ticket, kind, comment, before)


def render(template: str, ticket: dict) -> str:
    def sub(match: re.Match) -> str:
        path = match.group(1).split(".")
        if path == ["updated_at_with_timestamp"]:      # Zendesk's ISO-8601 placeholder
            path = ["updated_at"]
        value: Any = ticket
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if path == ["tags"] and isinstance(value, list):
            value = " ".join(value)
        return "" if value is None else str(value)
    return re.sub(r"\{\{\s*ticket\.([\w.]+)\s*\}\}", sub, template)


def _truthy(value: Any) -> bool:
    return str(value).lower() in ("true", "1", "yes", "requester_can_see_comment")


def _condition_holds(cond: dict, ctx: dict) -> bool:
    field, op, value = cond.get("field"), cond.get("operator", "is"), cond.get("value")
    ticket, prev, comment = ctx["ticket"], ctx["previous"], ctx["comment"]
    if field in ("update_type", "current_via_id", "role"):
        actual = ctx["via_id"] if field == "current_via_id" else ctx[field]
        same = str(actual).lower() == str(value).lower()
        return same if op == "is" else not same
    if field == "comment_is_public":
        if str(value) == "not_relevant":
            return True
        holds = comment is not None and comment["public"] == _truthy(value)
        return holds if op == "is" else not holds
    if field == "comment_includes_word":
        words = str(value or "").lower().split()
        text = (comment or {}).get("body", "").lower()
        found = comment is not None and any(w in text for w in words)
        return found if op in ("includes", "is") else not found
    if field == "current_tags":
        words = set(str(value or "").split())
        present = bool(words & set(ticket.get("tags") or []))
        return present if op == "includes" else not present
    if field == "satisfaction_score":       # the rating's score: offered, unoffered, good, bad
        ticket, prev = {field: _score(ticket)}, None if prev is None else {field: _score(prev)}
    if field in ("status", "priority", "type", "group_id", "assignee_id", "organization_id", "requester_id",
                 "satisfaction_score"):
        cur, old = ticket.get(field), (prev or {}).get(field)
        changed = prev is not None and cur != old
        norm = lambda v: "" if v is None else str(v)          # noqa: E731
        if op == "changed":
            return changed
        if op == "not_changed":
            return not changed
        if op == "value":
            return changed and norm(cur) == norm(value)
        if op == "value_previous":
            return changed and norm(old) == norm(value)
        if op == "not_value":
            return changed and norm(cur) != norm(value)
        if op == "not_value_previous":
            return changed and norm(old) != norm(value)
        if op in ("less_than", "greater_than") and field == "status":
            a, b = STATUS_ORDER.index(norm(cur) or "new"), STATUS_ORDER.index(norm(value))
            return a < b if op == "less_than" else a > b
        same = norm(cur) == norm(value)
        return same if op == "is" else not same if op == "is_not" else False
    return False


def _score(ticket: dict) -> str | None:
    return (ticket.get("satisfaction_rating") or {}).get("score")


def _conditions_hold(conditions: dict, ctx: dict) -> bool:
    all_ = conditions.get("all") or []
    any_ = conditions.get("any") or []
    return all(_condition_holds(c, ctx) for c in all_) and (not any_ or any(_condition_holds(c, ctx) for c in any_))


def _event_kinds(before: dict | None, ticket: dict, comment: dict | None) -> list[str]:
    if before is None:
        return ["created"]
    kinds = ["comment_added"] if comment else []
    for field, kind in (("group_id", "group_assignment_changed"), ("status", "status_changed"),
                        ("priority", "priority_changed"), ("assignee_id", "agent_assignment_changed"),
                        ("tags", "tags_changed")):
        if before.get(field) != ticket.get(field):
            kinds.append(kind)
    return kinds
