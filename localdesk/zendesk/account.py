"""The local Zendesk's fixed facts: the demo account (groups, agents, the API user), credentials
defaults, API enums and the runtime knobs with their defaults."""
from __future__ import annotations

from typing import Any

ACCOUNT_ID = 1
DEFAULT_EMAIL = "tiergate-bot@example.com"
DEFAULT_TOKEN = "local-token"
DEFAULT_SUBDOMAIN = "local"
BOT_ID = 299
TEST_SIGNING_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
VIA_IDS = {"web": 0, "email": 4, "api": 5, "chat": 29, "voice": 45, "mobile": 56, "sms": 57,
           "messaging": 74}
STATUS_ORDER = ["new", "open", "pending", "hold", "solved", "closed"]
ENUMS = {"status": STATUS_ORDER, "priority": ["low", "normal", "high", "urgent"],
         "type": ["question", "incident", "problem", "task"]}

DEFAULT_GROUPS = [(100, "Tier 0 Self-service"), (101, "Tier 1 Frontline"), (102, "Tier 2 Specialists"),
                  (103, "Tier 3 Engineering"), (104, "Management"), (110, "Billing"), (111, "Security"),
                  (112, "Privacy"), (113, "Legal"), (114, "Team Lead"), (115, "Review Queue"),
                  (116, "Customer Success")]
DEFAULT_AGENTS = [(201, "Ana Frontline", 101), (202, "Ben Specialist", 102), (203, "Cy Engineer", 103),
                  (204, "Dee Manager", 104), (210, "Fin Billing", 110), (211, "Sec Lead", 111),
                  (212, "Pia Privacy", 112), (213, "Lee Legal", 113), (214, "Tia Team Lead", 114),
                  (215, "Rex Reviewer", 115), (216, "Cas Success", 116)]

DEFAULT_KNOBS: dict[str, Any] = {
    "rate_limit_per_minute": None, "latency_ms": 0, "conflict_next": 0, "fail_next": 0,
    "fail_status": 503, "fail_rate": 0.0, "delivery_retries": 3, "delivery_backoff": 0.2,
    "seed": None,
}
TICKET_FIELDS = ("subject", "status", "priority", "type", "group_id", "assignee_id", "requester_id",
                 "organization_id", "external_id", "problem_id", "due_at", "custom_fields",
                 "brand_id", "ticket_form_id", "satisfaction_rating")
AUDITED = ("status", "priority", "type", "group_id", "assignee_id", "subject", "requester_id",
           "organization_id", "problem_id")
