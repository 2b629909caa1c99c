"""Shared test data for the manifest / decide tests: a small but complete manifest document.

(Named ``test_manifest_*`` to stay inside the manifest area's files; it holds no tests.)
"""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any

from tiergate.plugin.core.model import Comment, Enrichment, Organization, RiskTag, Ticket

NOW = datetime(2026, 11, 25, 13, 0, tzinfo=timezone.utc)      # Wednesday, 14:00 in Berlin

_DOC: dict[str, Any] = {
    "$schema": "./schema.json",
    "version": "test-1",
    "changelog": {"author": "tests", "date": "2026-11-27", "message": "test manifest"},
    "helpdesk": {"plan": "enterprise", "bot_user_id": 299, "default_tier": "tier_1",
                 "default_calendar": "support"},
    "tiers": {
        "tier_0": {"order": 0, "group_id": 100, "owner_id": 299, "label": "Tier 0",
                   "calendar": "always"},
        "tier_1": {"order": 1, "group_id": 101, "owner_id": 201, "label": "Tier 1 Frontline",
                   "calendar": "support", "oncall": "mail"},
        "tier_2": {"order": 2, "group_id": 102, "owner_id": 202, "label": "Tier 2 Specialists",
                   "calendar": "support", "oncall": "mail"},
        "tier_3": {"order": 3, "group_id": 103, "owner_id": 203, "label": "Tier 3 Engineering",
                   "calendar": "support", "oncall": "pager"},
        "management": {"order": 4, "group_id": 104, "owner_id": 204, "label": "Management",
                       "calendar": "support"},
    },
    "teams": {
        "finance": {"group_id": 110, "owner_id": 210, "label": "Finance", "calendar": "support",
                    "handles": ["billing"], "rank": 2},
        "security": {"group_id": 111, "owner_id": 211, "label": "Security", "calendar": "always",
                     "rank": 5},
    },
    "authority": {"limits": {"tier_1": {"refund": 100, "discount": 10, "credit": 50},
                             "tier_2": {"refund": 500}},
                  "approvers": {"refund": "finance", "discount": "management",
                                "credit": "finance"}},
    "keywords": {"outage": ["is down"], "legal": ["lawyer"]},
    "nlp": {"model": None},
    "calendars": {
        "support": {"time_zone": "Europe/Berlin",
                    "intervals": [{"day": "mon-fri", "start": "08:00", "end": "18:00"}]},
        "always": {"time_zone": "UTC", "always_open": True},
    },
    "sla": {"warn_at": [75], "policies": [
        {"name": "urgent", "match": {"priorities": ["urgent"]},
         "metrics": [{"metric": "first_reply_time", "target_minutes": 60}]}]},
    "oncall": {"default": "mail", "routes": {
        "pager": {"kind": "webhook", "target": "https://pager.example/hook"},
        "mail": {"kind": "email", "target": "oncall@example.com", "owner_id": 299}}},
    "templates": {
        "note": "Note for {{ trigger }}: {{ reasons | join('; ') }}",
        "promise": "We will update you by {{ update_by }}.",
        "broken_at_runtime": "{{ nothing.here }}",
    },
    "triggers": [
        {"name": "urgent_tag", "conditions": {"all": [
            {"field": "priority", "operator": "is", "value": "urgent"}]},
         "actions": [{"action": "add_tags", "tags": ["tg_urgent"]}]},
        {"name": "legal", "conditions": {"all": [
            {"field": "risk_tags", "operator": "includes", "value": ["legal"]}]},
         "actions": [{"action": "note", "template": "note"},
                     {"action": "escalate", "to": "management"}]},
    ],
    "review": {"sample_rate": 0.1},
}


def base_doc() -> dict[str, Any]:
    return copy.deepcopy(_DOC)


def doc_with(*triggers: dict[str, Any]) -> dict[str, Any]:
    d = base_doc()
    d["triggers"] = list(triggers)
    return d


def ticket(**kw: Any) -> Ticket:
    """A Tier 1 ticket created 2 h before NOW with one customer comment."""
    created = kw.pop("created_at", NOW - timedelta(hours=2))
    comments = kw.pop("comments", None)
    if comments is None:
        comments = (Comment(1, 500, "end-user", "Hello, it is down", True, created),)
    base = dict(id=42, subject="Help", description="Hello", status="open", priority="normal",
                type="problem", group_id=101, assignee_id=201, requester_id=500,
                organization_id=None, tags=(), channel="web", created_at=created,
                updated_at=created, custom_fields={}, comments=tuple(comments),
                organization=None)
    base.update(kw)
    return Ticket(**base)


def org(**kw: Any) -> Organization:
    base = dict(id=9, name="Contoso", segment="enterprise", account_value=50000.0,
                renewal_at=NOW + timedelta(days=20), tags=("strategic",))
    base.update(kw)
    return Organization(**base)


def enrichment(**kw: Any) -> Enrichment:
    tags = kw.pop("tags", ())
    base = dict(attention_score=10, sentiment=0.0, sentiment_label="neutral", complaint=False,
                risk_tags=tuple(RiskTag(t, t) for t in tags))
    base.update(kw)
    return Enrichment(**base)


def comment(i: int, role: str, minutes_ago: float, body: str = "text", public: bool = True
            ) -> Comment:
    return Comment(i, 500 if role == "end-user" else 201, role, body, public,
                   NOW - timedelta(minutes=minutes_ago))
