"""The local Zammad's fixed facts: the demo account (groups, agents, the API user, "nobody"),
Zammad's ids for senders, article types, states and priorities, the examples-format mapping, its
timestamp format and its API error."""
from __future__ import annotations

from datetime import datetime, timezone

DEFAULT_TOKEN = "zammad-demo-token"
BOT_ID = 299
NOBODY_ID = 1
ROLE_ADMIN, ROLE_AGENT, ROLE_CUSTOMER = 1, 2, 3
SENDERS = {1: "Agent", 2: "Customer", 3: "System"}
SENDER_IDS = {v: k for k, v in SENDERS.items()}
ARTICLE_TYPES = {1: "email", 2: "sms", 3: "chat", 4: "fax", 5: "phone", 10: "note", 11: "web"}
ARTICLE_TYPE_IDS = {v: k for k, v in ARTICLE_TYPES.items()}
STATES = {1: "new", 2: "open", 3: "pending reminder", 4: "closed", 5: "merged", 7: "pending close"}
PRIORITIES = {1: "1 low", 2: "2 normal", 3: "3 high", 4: "4 urgent"}
GROUPS = {100: "Tier 0 Self-service", 101: "Tier 1 Frontline", 102: "Tier 2 Specialists",
          103: "Tier 3 Engineering", 104: "Management", 110: "Billing", 111: "Security",
          112: "Privacy", 113: "Legal", 114: "Team Lead", 115: "Review Queue",
          116: "Customer Success"}
AGENTS = {201: ("Ana", "Frontline", 101), 202: ("Ben", "Specialist", 102), 203: ("Cy", "Engineer", 103),
          204: ("Dee", "Manager", 104), 210: ("Fin", "Billing", 110), 211: ("Sec", "Lead", 111),
          212: ("Pia", "Privacy", 112), 213: ("Lee", "Legal", 113), 214: ("Tia", "Lead", 114),
          215: ("Rex", "Reviewer", 115), 216: ("Cas", "Success", 116)}
# examples format -> Zammad
EXAMPLE_STATUS = {"new": 1, "open": 2, "pending": 7, "hold": 3, "solved": 4, "closed": 4}
EXAMPLE_CHANNEL = {"email": "email", "web": "web", "chat": "chat", "voice": "phone", "api": "web"}
DEFAULT_GROUP = 101
# the tickets table's columns: a write of any other key is dropped, as Zammad's param_cleanup
# does, unless an object attribute of that name exists (and its migration ran)
TICKET_COLUMNS = frozenset({
    "id", "group_id", "priority_id", "state_id", "organization_id", "number", "title", "owner_id",
    "customer_id", "note", "first_response_at", "first_response_escalation_at", "first_response_in_min",
    "first_response_diff_in_min", "close_at", "close_escalation_at", "close_in_min", "close_diff_in_min",
    "update_escalation_at", "update_in_min", "update_diff_in_min", "last_close_at", "last_contact_at",
    "last_contact_agent_at", "last_contact_customer_at", "last_owner_update_at", "create_article_type_id",
    "create_article_sender_id", "article_count", "escalation_at", "pending_time", "type", "time_unit",
    "preferences", "updated_by_id", "created_by_id", "created_at", "updated_at"})
HISTORY_ATTRS = {"group_id": ("group", GROUPS), "state_id": ("state", STATES),
                 "priority_id": ("priority", PRIORITIES), "owner_id": ("owner", None)}


def ts(at: datetime) -> str:
    at = at.astimezone(timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message
