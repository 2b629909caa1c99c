"""A local Zendesk-compatible server: the helpdesk of the demo, the tests and the benchmarks.

``start_server(port=0, **knobs) -> ServerHandle`` runs a threaded werkzeug server on 127.0.0.1 in
a background thread. Responses follow real Zendesk shapes (zenpy's ``specification/zendesk``)
so zenpy talks to it unchanged via ``ZENPY_FORCE_SCHEME=http`` / ``ZENPY_FORCE_NETLOC``.
Everything lives in memory in one ``State`` guarded by one lock.

Behaviour worth knowing:
- Basic auth ``email/token:TOKEN`` on ``/api/v2`` (401 otherwise); ``/_control`` needs none.
- Every ticket write appends an audit and moves ``updated_at`` forward with microsecond precision
  (strictly increasing), so ``safe_update`` + ``updated_stamp`` tells any two writes apart (409).
- Ticket creation through the API, and every update, evaluates the active triggers (conditions
  ``update_type``, ``comment_is_public``, ``current_via_id``, ``role``, ``status``/``priority``/
  ``group_id``/``assignee_id`` with is/is_not/changed/not_changed/value/value_previous,
  ``current_tags``) and sends each ``notification_webhook`` action's body, signed like Zendesk,
  from background sender threads with retries. Event-subscribed webhooks get
  ``zen:event-type:ticket.created|comment_added|group_assignment_changed|status_changed|
  priority_changed|agent_assignment_changed|tags_changed`` payloads. Like real Zendesk,
  ``POST /api/v2/imports/tickets`` runs no triggers; ``ServerHandle.import_example`` does
  (``deliver=True``) because the demo wants the "ticket created" webhook.
- Knobs (``handle.set_knobs`` or ``POST /_control/knobs``): ``rate_limit_per_minute`` (per
  account, sliding minute; 429 + ``Retry-After``), ``latency_ms``, ``conflict_next`` (next N
  single-ticket updates answer 409), ``fail_next`` + ``fail_status`` (next N API requests answer
  5xx), ``fail_rate`` (probability), ``delivery_retries``, ``delivery_backoff`` (seconds),
  ``seed`` (for ``fail_rate``).
"""
from __future__ import annotations

import bisect
import copy
import itertools
import json
import math
import random
import re
import secrets
import threading
import time
import uuid
from collections import Counter, deque
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

import heapq
import requests
from flask import Flask, Response, g, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server

from tiergate.connectors.zendesk_webhook import (INVOCATION_ID_HEADER, WEBHOOK_ID_HEADER, format_timestamp,
                                                 signed_headers)
from tiergate.plugin.core.model import format_time, parse_time

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
                  (112, "Privacy"), (113, "Legal"), (114, "Team Leads"), (115, "Review Queue"),
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
                 "via_followup_source_id", "brand_id", "ticket_form_id", "satisfaction_rating")
AUDITED = ("status", "priority", "type", "group_id", "assignee_id", "subject", "requester_id",
           "organization_id", "problem_id")


class ApiError(Exception):
    """Answered as ``{"error": error, "description": description}`` with ``status``."""

    def __init__(self, status: int, error: str, description: str = "", details: Any = None):
        super().__init__(description or error)
        self.status, self.error, self.description, self.details = status, error, description, details


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(at: datetime | None) -> str | None:
    return format_time(at)


def _not_found(kind: str = "record") -> ApiError:
    return ApiError(404, "RecordNotFound", f"Not found ({kind})")


class State:
    """The in-memory account. Every public method takes the lock; returned objects are copies."""

    def __init__(self, email: str = DEFAULT_EMAIL, token: str = DEFAULT_TOKEN,
                 subdomain: str = DEFAULT_SUBDOMAIN, base_url: str = ""):
        self.lock = threading.RLock()
        self.email, self.token, self.subdomain, self.base_url = email, token, subdomain, base_url
        self.knobs: dict[str, Any] = dict(DEFAULT_KNOBS)
        self._rng = random.Random()
        self.outbox: Callable[[dict], None] = lambda job: None   # set by the server: queue a delivery
        self.reset()

    # -- housekeeping ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything (tickets, users, webhooks, stats, knobs) and re-seed the defaults."""
        with self.lock:
            self.users: dict[int, dict] = {}
            self.groups: dict[int, dict] = {}
            self.organizations: dict[int, dict] = {}
            self.tickets: dict[int, dict] = {}
            self.comments: dict[int, list[dict]] = {}
            self.audits: dict[int, list[dict]] = {}
            self.collections: dict[str, dict[Any, dict]] = {
                "webhooks": {}, "triggers": {}, "ticket_fields": {}, "slas/policies": {},
                "business_hours/schedules": {}}
            self.signing_secrets: dict[str, str] = {}
            self.job_statuses: dict[str, dict] = {}
            self.satisfaction_ratings: dict[int, dict] = {}
            self.deliveries: list[dict] = []
            self.stats: Counter = Counter()
            self.window: deque[float] = deque()
            self.knobs = dict(DEFAULT_KNOBS)
            self._ticket_ids = itertools.count(1)
            self._user_ids = itertools.count(1001)
            self._org_ids = itertools.count(5001)
            self._object_ids = itertools.count(10001)    # comments, audits, events, generic objects
            self._last_stamp = datetime.fromtimestamp(0, timezone.utc)
            self.seed_defaults()

    def seed_defaults(self) -> None:
        """The shared demo account: tier groups, their agents and tiergate's API user."""
        with self.lock:
            for gid, name in DEFAULT_GROUPS:
                self.add_group(name, id=gid)
            for uid, name, group in DEFAULT_AGENTS:
                self.add_user(name, f"{name.split()[0].lower()}@support.example", role="agent",
                              id=uid, default_group_id=group)
            self.add_user("tiergate bot", self.email, role="admin", id=BOT_ID)

    def set_knobs(self, **knobs: Any) -> dict[str, Any]:
        with self.lock:
            unknown = set(knobs) - set(DEFAULT_KNOBS)
            if unknown:
                raise ApiError(400, "InvalidKnob", f"unknown knobs {sorted(unknown)}; known {sorted(DEFAULT_KNOBS)}")
            self.knobs.update(knobs)
            if "seed" in knobs:
                self._rng.seed(knobs["seed"])
            return dict(self.knobs)

    def next_stamp(self, at: datetime | None = None) -> datetime:
        """A strictly increasing write instant (microsecond precision)."""
        at = at or _utcnow()
        if at <= self._last_stamp:
            at = self._last_stamp + timedelta(microseconds=1)
        self._last_stamp = at
        return at

    def _oid(self) -> int:
        return next(self._object_ids)

    # -- users, groups, organizations -----------------------------------------------------------
    def add_group(self, name: str, id: int | None = None, **extra: Any) -> dict:
        with self.lock:
            gid = id or self._oid()
            now = _iso(_utcnow())
            self.groups[gid] = {"id": gid, "url": self._url(f"groups/{gid}"), "name": name,
                                "description": extra.pop("description", ""), "default": False,
                                "is_public": True, "deleted": False, "created_at": now, "updated_at": now,
                                **extra}
            return copy.deepcopy(self.groups[gid])

    def add_user(self, name: str, email: str | None, role: str = "end-user", id: int | None = None,
                 organization_id: int | None = None, **extra: Any) -> dict:
        with self.lock:
            if email and self.find_user(email=email) is not None:
                raise ApiError(422, "RecordInvalid", "Record validation errors",
                               {"email": [{"description": f"Email: {email} is already being used by another user",
                                           "error": "DuplicateValue"}]})
            if role not in ("end-user", "agent", "admin"):
                raise ApiError(422, "RecordInvalid", f"role: {role!r} is not end-user, agent or admin")
            uid = id or next(self._user_ids)
            now = _iso(_utcnow())
            self.users[uid] = {
                "id": uid, "url": self._url(f"users/{uid}"), "name": name, "email": email,
                "created_at": now, "updated_at": now, "time_zone": "UTC", "iana_time_zone": "Etc/UTC",
                "phone": None, "shared_phone_number": None, "photo": None, "locale_id": 1,
                "locale": "en-US", "organization_id": organization_id, "role": role, "verified": True,
                "external_id": extra.pop("external_id", None), "tags": extra.pop("tags", []), "alias": "",
                "active": True, "shared": False, "shared_agent": False, "last_login_at": None,
                "two_factor_auth_enabled": False, "signature": None, "details": "", "notes": "",
                "role_type": None, "custom_role_id": None, "moderator": role != "end-user",
                "ticket_restriction": "requested" if role == "end-user" else None,
                "only_private_comments": False, "restricted_agent": False, "suspended": False,
                "default_group_id": extra.pop("default_group_id", None), "report_csv": False,
                "user_fields": extra.pop("user_fields", {}), **extra}
            return copy.deepcopy(self.users[uid])

    def find_user(self, email: str) -> dict | None:
        with self.lock:
            for user in self.users.values():
                if user.get("email") and user["email"].lower() == email.lower():
                    return user
            return None

    def add_organization(self, name: str, id: int | None = None, organization_fields: dict | None = None,
                         tags: list[str] | None = None, **extra: Any) -> dict:
        with self.lock:
            if any(o["name"].lower() == name.lower() for o in self.organizations.values()):
                raise ApiError(422, "RecordInvalid", "Record validation errors",
                               {"name": [{"description": "Name: has already been taken", "error": "DuplicateValue"}]})
            oid = id or next(self._org_ids)
            now = _iso(_utcnow())
            self.organizations[oid] = {
                "id": oid, "url": self._url(f"organizations/{oid}"), "name": name, "shared_tickets": False,
                "shared_comments": False, "external_id": extra.pop("external_id", None), "created_at": now,
                "updated_at": now, "domain_names": extra.pop("domain_names", []), "details": "", "notes": "",
                "group_id": extra.pop("group_id", None), "tags": list(tags or []),
                "organization_fields": dict(organization_fields or {}), **extra}
            return copy.deepcopy(self.organizations[oid])

    def _url(self, path: str) -> str:
        return f"{self.base_url}/api/v2/{path}.json"

    def role_of(self, user_id: int | None) -> str:
        user = self.users.get(user_id) if user_id is not None else None
        return user["role"] if user else "end-user"

    # -- tickets --------------------------------------------------------------------------------
    def ticket(self, ticket_id: int) -> dict:
        with self.lock:
            if ticket_id not in self.tickets:
                raise _not_found("ticket")
            return copy.deepcopy(self.tickets[ticket_id])

    def _blank_ticket(self, tid: int, at: datetime, channel: str) -> dict:
        return {
            "id": tid, "url": self._url(f"tickets/{tid}"), "external_id": None,
            "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": _iso(at), "updated_at": _iso(at), "generated_timestamp": int(at.timestamp()),
            "type": None, "subject": "", "raw_subject": "", "description": "", "priority": None,
            "status": "new", "recipient": None, "requester_id": None, "submitter_id": None,
            "assignee_id": None, "organization_id": None, "group_id": None, "collaborator_ids": [],
            "follower_ids": [], "email_cc_ids": [], "forum_topic_id": None, "problem_id": None,
            "has_incidents": False, "is_public": True, "due_at": None, "tags": [], "custom_fields": [],
            "satisfaction_rating": None, "sharing_agreement_ids": [], "custom_status_id": None,
            "fields": [], "followup_ids": [], "ticket_form_id": None, "brand_id": None,
            "allow_channelback": False, "allow_attachments": True, "from_messaging_channel": False,
            "via_followup_source_id": None,
        }

    def _resolve_requester(self, data: dict) -> None:
        requester = data.pop("requester", None)
        if isinstance(requester, dict) and not data.get("requester_id"):
            email = requester.get("email")
            user = self.find_user(email) if email else None
            if user is None:
                user = self.add_user(requester.get("name") or email or "Customer", email,
                                     organization_id=requester.get("organization_id"))
            data["requester_id"] = user["id"]
        if data.get("requester_id") and not data.get("organization_id"):
            user = self.users.get(data["requester_id"])
            if user and user.get("organization_id"):
                data["organization_id"] = user["organization_id"]

    def _check_fields(self, data: dict) -> None:
        """422 like Zendesk for values it would refuse (enums, unknown group, end-user assignee)."""
        for key, allowed in ENUMS.items():
            if key in data and data[key] is not None and data[key] not in allowed:
                raise ApiError(422, "RecordInvalid", f"{key}: {data[key]!r} is not one of {list(allowed)}")
        for key in ("group_id", "assignee_id"):
            if data.get(key) is not None and (not isinstance(data[key], int) or isinstance(data[key], bool)):
                raise ApiError(422, "RecordInvalid", f"{key}: must be an integer")
        if data.get("group_id") is not None and data["group_id"] not in self.groups:
            raise ApiError(422, "RecordInvalid", f"group_id: group {data['group_id']} does not exist")
        if data.get("assignee_id") is not None and self.role_of(data["assignee_id"]) == "end-user":
            raise ApiError(422, "RecordInvalid", f"assignee_id: {data['assignee_id']} is not an agent")

    def create_ticket(self, data: dict, *, author_id: int = BOT_ID, via: str = "api",
                      at: datetime | None = None, run_triggers: bool = True) -> tuple[dict, dict]:
        """``POST /api/v2/tickets``: the first comment is the description (author: submitter)."""
        with self.lock:
            data = dict(data)
            self._check_fields(data)
            self._resolve_requester(data)
            comment = data.pop("comment", None) or {}
            body = comment.get("body") or comment.get("html_body") or data.pop("description", "") or ""
            if not body:
                raise ApiError(422, "RecordInvalid", "Record validation errors",
                               {"description": [{"description": "Description: cannot be blank"}]})
            channel = (data.pop("via", None) or {}).get("channel", via)
            at = self.next_stamp(at)
            tid = next(self._ticket_ids)
            ticket = self._blank_ticket(tid, at, channel)
            submitter = data.pop("submitter_id", None) or comment.get("author_id") or data.get("requester_id") \
                or author_id
            tags = data.pop("tags", None) or []
            for key in TICKET_FIELDS:
                if key in data:
                    ticket[key] = data[key]
            ticket["custom_fields"] = self._custom_fields([], data.get("custom_fields"))
            ticket.update(subject=data.get("subject") or body[:60], raw_subject=data.get("subject") or body[:60],
                          description=body, submitter_id=submitter, tags=_unique(tags),
                          status=data.get("status") or "new")
            if ticket["requester_id"] is None:
                ticket["requester_id"] = submitter
            self.tickets[tid] = ticket
            self.comments[tid] = []
            self.audits[tid] = []
            new_comment = self._add_comment(tid, body, public=comment.get("public", True), author_id=submitter,
                                            at=at, channel=channel, attachments=comment.get("attachments"))
            events = [{"id": self._oid(), "type": "Create", "field_name": f, "value": ticket[f]}
                      for f in AUDITED + ("tags",) if ticket.get(f) not in (None, [], "")]
            audit = self._audit(tid, at, submitter, channel, [_comment_event(new_comment)] + events)
            if run_triggers:
                self._fire(None, ticket, new_comment, "Create", channel, submitter)
            return copy.deepcopy(ticket), audit

    def update_ticket(self, ticket_id: int, data: dict, *, author_id: int = BOT_ID, via: str = "api",
                      at: datetime | None = None, check_conflict: bool = True) -> tuple[dict, dict]:
        """``PUT /api/v2/tickets/{id}``: fields, tags, one comment, safe_update; audited."""
        with self.lock:
            if ticket_id not in self.tickets:
                raise _not_found("ticket")
            ticket = self.tickets[ticket_id]
            data = dict(data)
            if check_conflict and self.knobs.get("conflict_next", 0) > 0:
                self.knobs["conflict_next"] -= 1
                ticket["updated_at"] = _iso(self.next_stamp())   # someone else just edited it
                raise _conflict()
            if data.pop("safe_update", False):
                stamp = data.get("updated_stamp")
                try:
                    stamp_at = parse_time(stamp)
                except ValueError:
                    raise ApiError(422, "RecordInvalid", f"updated_stamp: not a timestamp: {stamp!r}") from None
                if stamp_at is None:
                    raise ApiError(422, "RecordInvalid", "updated_stamp: required with safe_update")
                if stamp_at != parse_time(ticket["updated_at"]):
                    raise _conflict()
            data.pop("updated_stamp", None)
            data.pop("id", None)
            self._check_fields(data)
            self._resolve_requester(data)
            before = copy.deepcopy(ticket)
            comment = data.pop("comment", None)
            tags = list(ticket["tags"])
            if "tags" in data:
                tags = _unique(data.pop("tags") or [])
            tags = _unique(tags + list(data.pop("additional_tags", None) or []))
            remove = set(data.pop("remove_tags", None) or [])
            tags = [t for t in tags if t not in remove]
            for key in TICKET_FIELDS:
                if key in data and key != "custom_fields":
                    ticket[key] = data[key]
            if "custom_fields" in data:
                ticket["custom_fields"] = self._custom_fields(ticket["custom_fields"], data["custom_fields"])
            ticket["tags"] = tags
            at = self.next_stamp(at)
            events: list[dict] = []
            new_comment = None
            comment_author = author_id
            if comment:
                body = comment.get("body") or comment.get("html_body") or ""
                comment_author = comment.get("author_id") or author_id
                if body:
                    new_comment = self._add_comment(ticket_id, body, public=comment.get("public", True),
                                                    author_id=comment_author, at=at, channel=via,
                                                    attachments=comment.get("attachments"))
                    events.append(_comment_event(new_comment))
            for f in AUDITED + ("tags",):
                if before.get(f) != ticket.get(f):
                    events.append({"id": self._oid(), "type": "Change", "field_name": f, "value": ticket[f],
                                   "previous_value": before.get(f)})
            for old, new in _custom_changes(before["custom_fields"], ticket["custom_fields"]):
                events.append({"id": self._oid(), "type": "Change", "field_name": str(new["id"]),
                               "value": new["value"], "previous_value": old})
            ticket["updated_at"] = _iso(at)
            ticket["generated_timestamp"] = int(at.timestamp())
            audit = self._audit(ticket_id, at, comment_author, via, events)
            self._fire(before, ticket, new_comment, "Change", via, comment_author)
            return copy.deepcopy(ticket), audit

    def delete_ticket(self, ticket_id: int) -> None:
        with self.lock:
            if self.tickets.pop(ticket_id, None) is None:
                raise _not_found("ticket")
            self.comments.pop(ticket_id, None)
            self.audits.pop(ticket_id, None)

    def import_ticket(self, data: dict) -> dict:
        """``POST /api/v2/imports/tickets``: comments keep their ``created_at``; no triggers run."""
        with self.lock:
            data = dict(data)
            self._resolve_requester(data)
            comments = list(data.pop("comments", None) or [])
            if not comments and data.get("description"):
                comments = [{"author_id": data.get("requester_id"), "value": data["description"], "public": True}]
            if not comments:
                raise ApiError(422, "RecordInvalid", "comments: at least one comment is required")
            created = parse_time(data.pop("created_at", None)) or _utcnow()
            channel = (data.pop("via", None) or {}).get("channel", "api")
            tid = next(self._ticket_ids)
            ticket = self._blank_ticket(tid, created, channel)
            for key in TICKET_FIELDS:
                if key in data and key != "custom_fields":
                    ticket[key] = data[key]
            ticket["custom_fields"] = self._custom_fields([], data.get("custom_fields"))
            ticket["tags"] = _unique(data.get("tags") or [])
            first = comments[0]
            ticket["description"] = first.get("value") or first.get("body") or first.get("html_body") or ""
            ticket["subject"] = ticket["raw_subject"] = data.get("subject") or ticket["description"][:60]
            ticket["submitter_id"] = first.get("author_id") or ticket["requester_id"]
            ticket["status"] = data.get("status") or "new"
            self.tickets[tid] = ticket
            self.comments[tid] = []
            self.audits[tid] = []
            creation = [{"id": self._oid(), "type": "Create", "field_name": f, "value": ticket[f]}
                        for f in AUDITED + ("tags",) if ticket.get(f) not in (None, [], "")]
            last = created
            for i, c in enumerate(comments):
                at = parse_time(c.get("created_at")) or created
                last = max(last, at)
                new = self._add_comment(tid, c.get("value") or c.get("body") or c.get("html_body") or "",
                                        public=c.get("public", True),
                                        author_id=c.get("author_id") or ticket["requester_id"], at=at,
                                        channel=c.get("channel") or channel, attachments=c.get("attachments"))
                self._audit(tid, at, new["author_id"], new["via"]["channel"],
                            [_comment_event(new)] + (creation if i == 0 else []))
            updated = parse_time(data.get("updated_at")) or last
            ticket["updated_at"] = _iso(self.next_stamp(updated) if updated > self._last_stamp else updated)
            ticket["generated_timestamp"] = int(updated.timestamp())
            return copy.deepcopy(ticket)

    def _custom_fields(self, current: list[dict], given: Any) -> list[dict]:
        out = {f["id"]: f["value"] for f in current}
        for item in given or []:
            if isinstance(item, dict) and "id" in item:
                out[item["id"]] = item.get("value")
        return [{"id": k, "value": v} for k, v in out.items()]

    def _add_comment(self, tid: int, body: str, *, public: bool, author_id: int | None, at: datetime,
                     channel: str, attachments: Any = None) -> dict:
        cid = self._oid()
        files = []
        for a in attachments or []:
            name = a if isinstance(a, str) else a.get("file_name", "file")
            files.append({"id": self._oid(), "file_name": name, "content_url": f"{self.base_url}/attachments/{name}",
                          "content_type": "application/octet-stream", "size": 0, "inline": False})
        comment = {"id": cid, "type": "Comment", "author_id": author_id, "body": body, "html_body": f"<p>{body}</p>",
                   "plain_body": body, "public": bool(public), "attachments": files, "audit_id": None,
                   "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
                   "created_at": _iso(at), "metadata": {"system": {}, "custom": {}}}
        _insort(self.comments[tid], comment)
        if not public:
            self.tickets[tid]["is_public"] = self.tickets[tid]["is_public"] and len(self.comments[tid]) > 1
        return comment

    def _audit(self, tid: int, at: datetime, author_id: int | None, channel: str, events: list[dict]) -> dict:
        for event in events:        # like real audits, ids in Create/Change values are strings
            if event.get("field_name", "").endswith("_id"):
                for key in ("value", "previous_value"):
                    if event.get(key) is not None:
                        event[key] = str(event[key])
        audit = {"id": self._oid(), "ticket_id": tid, "created_at": _iso(at), "author_id": author_id,
                 "metadata": {"system": {}, "custom": {}},
                 "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}}, "events": events}
        for event in events:
            if event.get("type") == "Comment":
                event["audit_id"] = audit["id"]
                for c in reversed(self.comments[tid]):
                    if c["id"] == event["id"]:
                        c["audit_id"] = audit["id"]
                        break
        _insort(self.audits[tid], audit)
        return copy.deepcopy(audit)

    def set_tags(self, ticket_id: int, mode: str, tags: list[str], safe: dict) -> list[str]:
        """``/tickets/{id}/tags``: mode ``add`` (PUT), ``set`` (POST), ``remove`` (DELETE)."""
        key = {"add": "additional_tags", "set": "tags", "remove": "remove_tags"}[mode]
        ticket, _ = self.update_ticket(ticket_id, {key: list(tags), **safe}, check_conflict=False)
        return ticket["tags"]

    def rate(self, ticket_id: int, score: str, comment: str = "", author_id: int | None = None) -> dict:
        with self.lock:
            ticket = self.ticket(ticket_id)
            rid = self._oid()
            now = _iso(_utcnow())
            rating = {"id": rid, "url": self._url(f"satisfaction_ratings/{rid}"), "assignee_id": ticket["assignee_id"],
                      "group_id": ticket["group_id"], "requester_id": ticket["requester_id"], "ticket_id": ticket_id,
                      "score": score, "comment": comment, "reason": None, "created_at": now, "updated_at": now}
            self.satisfaction_ratings[rid] = rating
            self.update_ticket(ticket_id, {"satisfaction_rating": {"id": rid, "score": score, "comment": comment}},
                               author_id=author_id or ticket["requester_id"], via="web", check_conflict=False)
            return copy.deepcopy(rating)

    # -- triggers and webhooks ------------------------------------------------------------------
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
                    self._queue(hook, ticket["id"], "trigger:" + trigger["title"], _render(value[1], ticket))
        for kind in _event_kinds(before, ticket, comment):
            self._queue_event(ticket, kind, comment, before)

    def _queue_event(self, ticket: dict, kind: str, comment: dict | None = None, before: dict | None = None) -> int:
        event_type = f"zen:event-type:ticket.{kind}"
        queued = 0
        for hook in self.collections["webhooks"].values():
            if hook.get("status") == "active" and event_type in (hook.get("subscriptions") or []):
                payload = _event_payload(ticket, event_type, comment, before, self)
                self._queue(hook, ticket["id"], event_type, json.dumps(payload))
                queued += 1
        return queued

    def _queue(self, hook: dict, ticket_id: int, event: str, body: str) -> None:
        job = {"invocation_id": uuid.uuid4().hex, "webhook_id": hook["id"], "ticket_id": ticket_id,
               "event": event, "endpoint": hook["endpoint"], "method": hook.get("http_method", "POST"),
               "secret": self.signing_secrets[hook["id"]], "body": body, "attempts": 0, "status": None,
               "ok": False, "error": None}
        self.deliveries.append(job)
        self.outbox(job)

    def redeliver(self, ticket_id: int, event: str = "created") -> int:
        """Re-send a ticket's webhooks: every active trigger webhook (its template body) and every
        event webhook subscribed to ``zen:event-type:ticket.<event>``. Returns how many were queued."""
        with self.lock:
            ticket = self.ticket(ticket_id)
            sent: set[str] = set()          # once per webhook, with the first trigger body calling it
            for trigger in self.collections["triggers"].values():
                for action in trigger.get("actions") or []:
                    if trigger.get("active", True) and action.get("field") == "notification_webhook":
                        value = action["value"] if not isinstance(action["value"], str) else json.loads(action["value"])
                        hook = self.collections["webhooks"].get(str(value[0]))
                        if hook and hook.get("status") == "active" and hook["id"] not in sent:
                            self._queue(hook, ticket_id, "redeliver:" + trigger["title"], _render(value[1], ticket))
                            sent.add(hook["id"])
            return len(sent) + self._queue_event(ticket, event)

    def create_webhook(self, data: dict) -> dict:
        with self.lock:
            for key in ("name", "endpoint"):
                if not data.get(key):
                    raise ApiError(400, "InvalidInput", f"webhook.{key}: required")
            wid = "01" + secrets.token_hex(12).upper()
            now = _iso(_utcnow())
            secret = (data.get("signing_secret") or {}).get("secret") or secrets.token_urlsafe(32)
            hook = {"id": wid, "name": data["name"], "status": data.get("status", "active"),
                    "endpoint": data["endpoint"], "http_method": data.get("http_method", "POST"),
                    "request_format": data.get("request_format", "json"),
                    "subscriptions": list(data.get("subscriptions") or ["conditional_ticket_events"]),
                    "authentication": data.get("authentication"), "custom_headers": data.get("custom_headers", {}),
                    "description": data.get("description"), "created_at": now, "created_by": str(BOT_ID),
                    "updated_at": now, "updated_by": str(BOT_ID), "signing_secret": {}, "external_source": {}}
            self.collections["webhooks"][wid] = hook
            self.signing_secrets[wid] = secret
            return copy.deepcopy(hook)


# -- pure helpers -------------------------------------------------------------------------------
def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(str(t) for t in items if str(t)))


def _conflict() -> ApiError:
    return ApiError(409, "UpdateConflict", "Safe Update prevented the update due to outdated ticket data. "
                                           "Please fetch the latest ticket data and try again.")


def _comment_event(comment: dict) -> dict:
    return {"id": comment["id"], "type": "Comment", "author_id": comment["author_id"], "body": comment["body"],
            "html_body": comment["html_body"], "plain_body": comment["plain_body"], "public": comment["public"],
            "attachments": comment["attachments"], "audit_id": None}


def _custom_changes(before: list[dict], after: list[dict]) -> list[tuple[Any, dict]]:
    old = {f["id"]: f["value"] for f in before}
    return [(old.get(f["id"]), f) for f in after if old.get(f["id"]) != f["value"]]


def _render(template: str, ticket: dict) -> str:
    def sub(match: re.Match) -> str:
        path = match.group(1).split(".")
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
    if field in ("status", "priority", "type", "group_id", "assignee_id", "organization_id", "requester_id"):
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


def _sid(value: Any) -> str | None:
    return None if value is None else str(value)


def _event_payload(ticket: dict, event_type: str, comment: dict | None, before: dict | None,
                   state: State) -> dict:
    detail = {"actor_id": _sid(comment["author_id"] if comment else BOT_ID), "assignee_id": _sid(ticket["assignee_id"]),
              "brand_id": _sid(ticket.get("brand_id")), "created_at": ticket["created_at"],
              "custom_status": None, "description": ticket["description"], "external_id": ticket["external_id"],
              "form_id": _sid(ticket.get("ticket_form_id")), "group_id": _sid(ticket["group_id"]),
              "id": str(ticket["id"]), "is_public": ticket["is_public"],
              "organization_id": _sid(ticket["organization_id"]), "priority": (ticket["priority"] or "").upper() or None,
              "requester_id": _sid(ticket["requester_id"]), "status": ticket["status"].upper(),
              "subject": ticket["subject"], "submitter_id": _sid(ticket["submitter_id"]), "tags": list(ticket["tags"]),
              "type": (ticket["type"] or "").upper() or None, "updated_at": ticket["updated_at"],
              "via": {"channel": ticket["via"]["channel"]}}
    event: dict[str, Any] = {}
    if event_type.endswith("comment_added") and comment:
        author = state.users.get(comment["author_id"]) or {}
        event = {"comment": {"id": str(comment["id"]), "body": comment["body"], "is_public": comment["public"],
                             "author": {"id": _sid(comment["author_id"]), "is_staff": author.get("role") != "end-user",
                                        "name": author.get("name")}}}
    else:
        field = {"group_assignment_changed": "group_id", "status_changed": "status", "priority_changed": "priority",
                 "agent_assignment_changed": "assignee_id", "tags_changed": "tags"}.get(event_type.rsplit(".", 1)[1])
        if field and before is not None:
            event = {"current": ticket.get(field) if field == "tags" else _sid(ticket.get(field)),
                     "previous": before.get(field) if field == "tags" else _sid(before.get(field))}
    return {"type": event_type, "account_id": ACCOUNT_ID, "id": str(uuid.uuid4()), "time": format_timestamp(_utcnow()),
            "zendesk_event_version": "2022-11-06", "subject": f"zen:ticket:{ticket['id']}", "detail": detail,
            "event": event}


# -- delivery -----------------------------------------------------------------------------------
class Sender:
    """Background threads that POST queued webhook deliveries, retrying failures with backoff."""

    def __init__(self, state: State, threads: int = 4, timeout: float = 10.0):
        self.state, self.timeout = state, timeout
        self._heap: list[tuple[float, int, dict]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._inflight = 0
        self._stopping = False
        self._local = threading.local()      # one requests.Session per sender thread
        self._threads = [threading.Thread(target=self._run, name=f"zendesk-sender-{i}", daemon=True)
                         for i in range(threads)]
        for t in self._threads:
            t.start()

    def put(self, job: dict, delay: float = 0.0) -> None:
        with self._cv:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), job))
            self._cv.notify()

    def wait(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or in flight; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._heap or self._inflight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(min(left, 0.05))
            return True

    def clear(self) -> None:
        """Drop queued deliveries and pending retries (in-flight ones finish)."""
        with self._cv:
            self._heap.clear()
            self._cv.notify_all()

    def stop(self) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        for t in self._threads:
            t.join(timeout=2)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stopping and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cv.wait(0.05 if not self._heap else max(0.0, self._heap[0][0] - time.monotonic()))
                if self._stopping:
                    return
                _, _, job = heapq.heappop(self._heap)
                self._inflight += 1
            try:
                self._send(job)
            finally:
                with self._cv:
                    self._inflight -= 1
                    self._cv.notify_all()

    def _send(self, job: dict) -> None:
        body = job["body"].encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Zendesk Webhook",
                   WEBHOOK_ID_HEADER: job["webhook_id"], INVOCATION_ID_HEADER: job["invocation_id"],
                   **signed_headers(body, job["secret"], format_timestamp(_utcnow()))}
        with self.state.lock:
            job["attempts"] += 1
            retries, backoff = self.state.knobs["delivery_retries"], self.state.knobs["delivery_backoff"]
        try:
            if not hasattr(self._local, "session"):
                self._local.session = requests.Session()
            r = self._local.session.request(job["method"], job["endpoint"], data=body, headers=headers, timeout=self.timeout)
            status, error = r.status_code, None if r.status_code < 400 else r.text[:200]
        except requests.RequestException as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"
        retryable = status is None or status >= 500 or status == 429
        again = bool(error) and retryable and job["attempts"] <= retries
        with self.state.lock:
            job["status"], job["error"], job["ok"] = status, error, error is None
            if not again:
                job["body"] = None          # delivered or given up: only its record is kept
        if again:
            self.put(job, delay=backoff * (2 ** (job["attempts"] - 1)))


# -- HTTP ---------------------------------------------------------------------------------------
class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:   # stats() counts requests instead
        pass


class _StripJson:
    """WSGI middleware: ``/api/v2/tickets/1.json`` and ``/api/v2/tickets/1`` are the same route."""

    def __init__(self, app: Any):
        self.app = app

    def __call__(self, environ: dict, start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.endswith(".json"):
            environ["PATH_INFO"] = path[:-5]
        return self.app(environ, start_response)


def _body() -> dict:
    data = request.get_json(silent=True, force=True)
    if data is None and request.get_data():
        raise ApiError(400, "InvalidJSON", "The request body is not valid JSON")
    return data if isinstance(data, dict) else {}


def _ids_arg() -> list[int]:
    raw = request.args.get("ids", "")
    try:
        return [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise ApiError(400, "InvalidInput", "ids: comma-separated integers expected") from None


def _insort(items: list[dict], item: dict) -> None:
    """Keeps a thread in ``created_at`` order; an item newer than the last one is appended."""
    if items and parse_time(items[-1]["created_at"]) > parse_time(item["created_at"]):
        bisect.insort(items, item, key=lambda c: parse_time(c["created_at"]))
    else:
        items.append(item)


def _page(items: list[dict], key: str) -> dict:
    """Cursor pagination when ``page[size]``/``page[after]`` is asked for, offset otherwise; only
    the page's items are copied (call it under the state's lock)."""
    base = request.base_url
    if "page[size]" in request.args or "page[after]" in request.args:
        size = min(int(request.args.get("page[size]", 100)), 100)
        start = int(request.args.get("page[after]") or 0)
        chunk, more = items[start:start + size], start + size < len(items)
        after = str(start + size) if more else None
        return {key: copy.deepcopy(chunk), "meta": {"has_more": more, "after_cursor": after, "before_cursor": str(start) if start else None},
                "links": {"next": f"{base}?page[size]={size}&page[after]={after}" if more else None, "prev": None}}
    per = min(int(request.args.get("per_page", 100)), 100)
    page = max(int(request.args.get("page", 1)), 1)
    chunk = items[(page - 1) * per: page * per]
    more = page * per < len(items)
    return {key: copy.deepcopy(chunk), "next_page": f"{base}?page={page + 1}&per_page={per}" if more else None,
            "previous_page": f"{base}?page={page - 1}&per_page={per}" if page > 1 else None, "count": len(items)}


def _search(state: State, query: str) -> list[dict]:
    """Just enough of Zendesk search: type:ticket, status:/status<, updated>/created>, tags:, group_id:."""
    tickets = list(state.tickets.values())
    for token in query.split():
        m = re.match(r"^(\w+)(:|<|>|<=|>=)(.+)$", token)
        if not m:
            tickets = [t for t in tickets if token.lower() in (t["subject"] + " " + t["description"]).lower()]
            continue
        key, op, value = m.groups()
        if key == "type":
            if value != "ticket":
                return []
        elif key == "status" and op == ":":
            tickets = [t for t in tickets if t["status"] == value]
        elif key == "status" and op in ("<", ">"):
            i = STATUS_ORDER.index(value)
            tickets = [t for t in tickets if (STATUS_ORDER.index(t["status"]) < i) == (op == "<")
                       and STATUS_ORDER.index(t["status"]) != i]
        elif key in ("updated", "created") and op in (">", "<", ">=", "<="):
            bound = parse_time(value if "T" in value else value + "T00:00:00Z")
            at = lambda t: parse_time(t[key + "_at"])            # noqa: E731
            tickets = [t for t in tickets if (at(t) > bound if ">" in op else at(t) < bound)]
        elif key in ("tags", "tag"):
            tickets = [t for t in tickets if value in t["tags"]]
        elif key in ("group_id", "group", "assignee_id", "assignee"):
            field = key if key.endswith("_id") else key + "_id"
            tickets = [t for t in tickets if str(t[field]) == value]
    return sorted(tickets, key=lambda t: parse_time(t["updated_at"]))


def create_app(state: State) -> Flask:
    app = Flask("tiergate-zendesk-local")
    app.json.sort_keys = False   # type: ignore[attr-defined]
    api = "/api/v2"

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        body: dict[str, Any] = {"error": exc.error, "description": exc.description}
        if exc.details is not None:
            body["details"] = exc.details
        resp = jsonify(body)
        resp.status_code = exc.status
        if exc.status == 401:
            resp.headers["WWW-Authenticate"] = 'Basic realm="Web Password"'
        return resp

    @app.errorhandler(404)
    def _no_route(exc: Any) -> Response:
        resp = jsonify({"error": "InvalidEndpoint", "description": "Not found"})
        resp.status_code = 404
        return resp

    @app.errorhandler(405)
    def _bad_method(exc: Any) -> Response:
        resp = jsonify({"error": "InvalidEndpoint", "description": "Method not allowed"})
        resp.status_code = 405
        return resp

    @app.before_request
    def _gate() -> Response | None:
        g.rate_headers = {}
        if not request.path.startswith(api):
            return None
        auth = request.authorization
        if not auth or auth.username != f"{state.email}/token" or auth.password != state.token:
            raise ApiError(401, "Couldn't authenticate you", "")
        with state.lock:
            knobs = dict(state.knobs)
            limit = knobs["rate_limit_per_minute"]
            if limit:
                now = time.monotonic()
                while state.window and state.window[0] <= now - 60:
                    state.window.popleft()
                if len(state.window) >= limit:
                    retry = max(1, math.ceil(state.window[0] + 60 - now))
                    resp = jsonify({"error": "APIRateLimitExceeded", "description": "Rate limit exceeded"})
                    resp.status_code = 429
                    resp.headers.update({"Retry-After": str(retry), "X-Rate-Limit": str(limit),
                                         "X-Rate-Limit-Remaining": "0", "ratelimit-remaining": "0",
                                         "ratelimit-reset": str(retry)})
                    return resp
                state.window.append(now)
                remaining = str(limit - len(state.window))
                g.rate_headers = {"X-Rate-Limit": str(limit), "X-Rate-Limit-Remaining": remaining,
                                  "ratelimit-limit": str(limit), "ratelimit-remaining": remaining,
                                  "ratelimit-reset": str(60)}
            fail = False
            if knobs["fail_next"] > 0:
                state.knobs["fail_next"] -= 1
                fail = True
            elif knobs["fail_rate"] and state._rng.random() < knobs["fail_rate"]:
                fail = True
        if knobs["latency_ms"]:
            time.sleep(knobs["latency_ms"] / 1000.0)
        if fail and int(knobs["fail_status"]) == 429:
            resp = jsonify({"error": "APIRateLimitExceeded", "description": "Injected fault (fail_next/fail_rate)"})
            resp.status_code = 429
            resp.headers.update({"Retry-After": "1", "X-Rate-Limit-Remaining": "0"})
            return resp
        if fail:
            raise ApiError(int(knobs["fail_status"]), "ServiceUnavailable", "Injected fault (fail_next/fail_rate)")
        return None

    @app.after_request
    def _count(resp: Response) -> Response:
        rule = request.url_rule.rule if request.url_rule else request.path
        with state.lock:
            state.stats[(request.method, rule, resp.status_code)] += 1
        resp.headers.update(getattr(g, "rate_headers", {}) or {})
        return resp

    # -- tickets --------------------------------------------------------------------------------
    @app.get(f"{api}/tickets")
    def tickets_list():
        with state.lock:
            return jsonify(_page(sorted(state.tickets.values(), key=lambda t: t["id"]), "tickets"))

    @app.get(f"{api}/tickets/show_many")
    def tickets_show_many():
        with state.lock:
            return jsonify({"tickets": [copy.deepcopy(state.tickets[i]) for i in _ids_arg() if i in state.tickets]})

    @app.post(f"{api}/tickets")
    def tickets_create():
        data = _body().get("ticket")
        if not isinstance(data, dict):
            raise ApiError(400, "InvalidInput", "ticket: object required")
        ticket, audit = state.create_ticket(data)
        return jsonify({"ticket": ticket, "audit": audit}), 201

    @app.get(f"{api}/tickets/<int:ticket_id>")
    def tickets_show(ticket_id: int):
        return jsonify({"ticket": state.ticket(ticket_id)})

    @app.put(f"{api}/tickets/<int:ticket_id>")
    def tickets_update(ticket_id: int):
        data = _body().get("ticket")
        if not isinstance(data, dict):
            raise ApiError(400, "InvalidInput", "ticket: object required")
        ticket, audit = state.update_ticket(ticket_id, data)
        return jsonify({"ticket": ticket, "audit": audit})

    @app.delete(f"{api}/tickets/<int:ticket_id>")
    def tickets_delete(ticket_id: int):
        state.delete_ticket(ticket_id)
        return Response(status=204)

    @app.put(f"{api}/tickets/update_many")
    def tickets_update_many():
        body = _body()
        if "tickets" in body:
            items = body["tickets"]
            if not isinstance(items, list) or not all(isinstance(t, dict) and "id" in t for t in items):
                raise ApiError(400, "InvalidInput", "tickets: list of objects with id required")
        else:
            items = [{**(body.get("ticket") or {}), "id": i} for i in _ids_arg()]
        if len(items) > 100:
            raise ApiError(400, "TooManyValues", f"You can update at most 100 tickets at once ({len(items)} given)")
        results = []
        for item in items:
            item = dict(item)
            tid = item.pop("id")
            try:
                state.update_ticket(int(tid), item, check_conflict=False)
                results.append({"id": tid, "action": "update", "success": True, "status": "Updated"})
            except ApiError as exc:
                results.append({"id": tid, "action": "update", "success": False, "status": "Failed",
                                "error": exc.error, "details": exc.description})
        job_id = uuid.uuid4().hex
        job = {"id": job_id, "url": state._url(f"job_statuses/{job_id}"), "total": len(items),
               "progress": len(items), "status": "completed", "message": f"Completed at {_iso(_utcnow())}",
               "job_type": "Bulk Update", "results": results}
        with state.lock:
            state.job_statuses[job_id] = job
        queued = {**job, "status": "queued", "progress": None, "message": None, "results": None}
        return jsonify({"job_status": queued})

    @app.get(f"{api}/job_statuses/<job_id>")
    def job_status(job_id: str):
        with state.lock:
            if job_id not in state.job_statuses:
                raise _not_found("job_status")
            return jsonify({"job_status": copy.deepcopy(state.job_statuses[job_id])})

    @app.route(f"{api}/tickets/<int:ticket_id>/tags", methods=["GET", "PUT", "POST", "DELETE"])
    def tickets_tags(ticket_id: int):
        if request.method == "GET":
            return jsonify({"tags": state.ticket(ticket_id)["tags"]})
        body = _body()
        tags = body.get("tags")
        if not isinstance(tags, list):
            raise ApiError(400, "InvalidInput", "tags: list required")
        safe = {k: body[k] for k in ("safe_update", "updated_stamp") if k in body}
        mode = {"PUT": "add", "POST": "set", "DELETE": "remove"}[request.method]
        return jsonify({"tags": state.set_tags(ticket_id, mode, tags, safe)})

    @app.get(f"{api}/tickets/<int:ticket_id>/comments")
    def tickets_comments(ticket_id: int):
        with state.lock:
            state.ticket(ticket_id)
            comments = state.comments[ticket_id]
            if request.args.get("sort_order") == "desc":
                comments = comments[::-1]
            return jsonify(_page(comments, "comments"))

    @app.get(f"{api}/tickets/<int:ticket_id>/audits")
    def tickets_audits(ticket_id: int):
        with state.lock:
            state.ticket(ticket_id)
            return jsonify(_page(state.audits[ticket_id], "audits"))

    @app.post(f"{api}/tickets/<int:ticket_id>/satisfaction_rating")
    def tickets_rate(ticket_id: int):
        data = _body().get("satisfaction_rating") or {}
        if data.get("score") not in ("good", "bad", "offered", "unoffered"):
            raise ApiError(422, "RecordInvalid", "satisfaction_rating.score: good, bad, offered or unoffered")
        return jsonify({"satisfaction_rating": state.rate(ticket_id, data["score"], data.get("comment", ""))})

    @app.get(f"{api}/satisfaction_ratings")
    def satisfaction_list():
        with state.lock:
            return jsonify(_page(list(state.satisfaction_ratings.values()), "satisfaction_ratings"))

    @app.get(f"{api}/satisfaction_ratings/<int:rid>")
    def satisfaction_show(rid: int):
        with state.lock:
            if rid not in state.satisfaction_ratings:
                raise _not_found("satisfaction_rating")
            return jsonify({"satisfaction_rating": copy.deepcopy(state.satisfaction_ratings[rid])})

    @app.post(f"{api}/imports/tickets")
    def imports_tickets():
        data = _body().get("ticket")
        if not isinstance(data, dict):
            raise ApiError(400, "InvalidInput", "ticket: object required")
        return jsonify({"ticket": state.import_ticket(data)}), 201

    @app.get(f"{api}/incremental/tickets")
    def incremental_tickets():
        try:
            start = int(request.args["start_time"])
        except (KeyError, ValueError):
            raise ApiError(400, "InvalidPaginationParameter", "start_time: unix seconds required") from None
        with state.lock:
            found = sorted((t for t in state.tickets.values() if t["generated_timestamp"] >= start),
                           key=lambda t: (t["generated_timestamp"], t["id"]))
            chunk = copy.deepcopy(found[:1000])
        end = chunk[-1]["generated_timestamp"] if chunk else start
        end_of_stream = len(found) <= 1000
        return jsonify({"tickets": chunk, "count": len(chunk), "end_time": end, "end_of_stream": end_of_stream,
                        "next_page": f"{request.base_url}?start_time={end}"})

    @app.get(f"{api}/search")
    def search():
        with state.lock:
            results = [{**t, "result_type": "ticket"} for t in _search(state, request.args.get("query", ""))]
            page = _page(results, "results")
        page.setdefault("count", len(results))
        return jsonify(page)

    # -- users, groups, organizations -----------------------------------------------------------
    @app.get(f"{api}/users")
    def users_list():
        with state.lock:
            users = [u for u in state.users.values() if not request.args.get("role") or u["role"] == request.args["role"]]
            return jsonify(_page(users, "users"))

    @app.get(f"{api}/users/<int:user_id>")
    def users_show(user_id: int):
        with state.lock:
            if user_id not in state.users:
                raise _not_found("user")
            return jsonify({"user": copy.deepcopy(state.users[user_id])})

    @app.get(f"{api}/users/show_many")
    def users_show_many():
        with state.lock:
            return jsonify({"users": [copy.deepcopy(state.users[i]) for i in _ids_arg() if i in state.users]})

    @app.get(f"{api}/users/search")
    def users_search():
        q = (request.args.get("query") or request.args.get("external_id") or "").removeprefix("email:").lower()
        with state.lock:
            found = [u for u in state.users.values()
                     if q and (q == (u.get("email") or "").lower() or q in u["name"].lower() or q == str(u.get("external_id")))]
            return jsonify(_page(found, "users"))

    @app.post(f"{api}/users")
    def users_create():
        data = dict(_body().get("user") or {})
        if not data.get("name"):
            raise ApiError(422, "RecordInvalid", "user.name: required")
        return jsonify({"user": state.add_user(data.pop("name"), data.pop("email", None),
                                               role=data.pop("role", "end-user"), **data)}), 201

    @app.post(f"{api}/users/create_or_update")
    def users_create_or_update():
        data = dict(_body().get("user") or {})
        with state.lock:
            existing = state.find_user(data["email"]) if data.get("email") else None
            if existing:
                existing.update({k: v for k, v in data.items() if k != "id"})
                return jsonify({"user": copy.deepcopy(existing)})
            return jsonify({"user": state.add_user(data.pop("name", data.get("email")), data.pop("email", None),
                                                   role=data.pop("role", "end-user"), **data)}), 201

    @app.get(f"{api}/groups")
    def groups_list():
        with state.lock:
            return jsonify(_page(list(state.groups.values()), "groups"))

    @app.get(f"{api}/groups/<int:group_id>")
    def groups_show(group_id: int):
        with state.lock:
            if group_id not in state.groups:
                raise _not_found("group")
            return jsonify({"group": copy.deepcopy(state.groups[group_id])})

    @app.post(f"{api}/groups")
    def groups_create():
        data = dict(_body().get("group") or {})
        if not data.get("name"):
            raise ApiError(422, "RecordInvalid", "group.name: required")
        return jsonify({"group": state.add_group(data.pop("name"), **data)}), 201

    @app.get(f"{api}/organizations")
    def orgs_list():
        with state.lock:
            return jsonify(_page(list(state.organizations.values()), "organizations"))

    @app.get(f"{api}/organizations/<int:org_id>")
    def orgs_show(org_id: int):
        with state.lock:
            if org_id not in state.organizations:
                raise _not_found("organization")
            return jsonify({"organization": copy.deepcopy(state.organizations[org_id])})

    @app.get(f"{api}/organizations/search")
    def orgs_search():
        name = (request.args.get("name") or "").lower()
        with state.lock:
            return jsonify({"organizations": [copy.deepcopy(o) for o in state.organizations.values()
                                              if o["name"].lower() == name]})

    @app.post(f"{api}/organizations")
    def orgs_create():
        data = dict(_body().get("organization") or {})
        if not data.get("name"):
            raise ApiError(422, "RecordInvalid", "organization.name: required")
        return jsonify({"organization": state.add_organization(data.pop("name"), **data)}), 201

    @app.put(f"{api}/organizations/<int:org_id>")
    def orgs_update(org_id: int):
        data = _body().get("organization") or {}
        with state.lock:
            if org_id not in state.organizations:
                raise _not_found("organization")
            org = state.organizations[org_id]
            fields_ = data.pop("organization_fields", None)
            org.update({k: v for k, v in data.items() if k != "id"})
            if fields_:
                org["organization_fields"].update(fields_)
            org["updated_at"] = _iso(_utcnow())
            return jsonify({"organization": copy.deepcopy(org)})

    # -- webhooks -------------------------------------------------------------------------------
    @app.post(f"{api}/webhooks")
    def webhooks_create():
        data = _body().get("webhook")
        if not isinstance(data, dict):
            raise ApiError(400, "InvalidInput", "webhook: object required")
        return jsonify({"webhook": state.create_webhook(data)}), 201

    @app.get(f"{api}/webhooks/<webhook_id>/signing_secret")
    def webhooks_secret(webhook_id: str):
        with state.lock:
            if webhook_id not in state.signing_secrets:
                raise _not_found("webhook")
            return jsonify({"signing_secret": {"algorithm": "SHA256", "secret": state.signing_secrets[webhook_id]}})

    @app.post(f"{api}/webhooks/<webhook_id>/signing_secret")
    def webhooks_secret_reset(webhook_id: str):
        with state.lock:
            if webhook_id not in state.signing_secrets:
                raise _not_found("webhook")
            state.signing_secrets[webhook_id] = secrets.token_urlsafe(32)
            return jsonify({"signing_secret": {"algorithm": "SHA256", "secret": state.signing_secrets[webhook_id]}}), 201

    @app.post(f"{api}/webhooks/test")
    def webhooks_test():
        body = _body()
        req = body.get("request") or {}
        hook_id = request.args.get("webhook_id") or body.get("webhook_id")
        with state.lock:
            hook = state.collections["webhooks"].get(hook_id) if hook_id else None
            if hook_id and hook is None:
                raise _not_found("webhook")
            secret = state.signing_secrets[hook_id] if hook else TEST_SIGNING_SECRET
        endpoint = req.get("endpoint") or (hook or {}).get("endpoint")
        if not endpoint:
            raise ApiError(400, "InvalidInput", "request.endpoint: required")
        payload = req.get("payload")
        raw = (payload if isinstance(payload, str) else json.dumps(payload or {"ticket_id": "1"})).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "Zendesk Webhook",
                   INVOCATION_ID_HEADER: uuid.uuid4().hex,
                   **signed_headers(raw, secret, format_timestamp(_utcnow()))}
        if hook_id:
            headers[WEBHOOK_ID_HEADER] = hook_id
        try:
            r = requests.request(req.get("http_method") or (hook or {}).get("http_method", "POST"), endpoint,
                                 data=raw, headers=headers, timeout=10)
            out = {"status": r.status_code, "headers": [{"key": k, "value": v} for k, v in r.headers.items()],
                   "body": r.text[:2000]}
        except requests.RequestException as exc:
            out = {"status": 0, "headers": [], "body": f"{type(exc).__name__}: {exc}"}
        return jsonify({"response": out})

    # -- generic collections: webhooks, triggers, ticket_fields, slas/policies, schedules -------
    singular = {"webhooks": "webhook", "triggers": "trigger", "ticket_fields": "ticket_field",
                "slas/policies": "sla_policy", "business_hours/schedules": "schedule"}

    def _collection(name: str) -> dict[Any, dict]:
        return state.collections[name]

    def _key(name: str, raw: str) -> Any:
        if name == "webhooks":
            return raw
        try:
            return int(raw)
        except ValueError:
            raise _not_found(singular[name]) from None

    for coll in singular:
        one = singular[coll]

        def list_(coll=coll):
            with state.lock:
                items = sorted(_collection(coll).values(), key=lambda o: (o.get("position") or 0, str(o["id"])))
                return jsonify(_page(items, coll.rsplit("/", 1)[-1] if coll != "slas/policies"
                                     else "sla_policies"))

        def create(coll=coll, one=one):
            data = _body().get(one)
            if not isinstance(data, dict):
                raise ApiError(400, "InvalidInput", f"{one}: object required")
            with state.lock:
                oid = state._oid()
                now = _iso(_utcnow())
                obj = {"id": oid, "url": state._url(f"{coll}/{oid}"), **{k: v for k, v in data.items() if k != "id"},
                       "created_at": now, "updated_at": now}
                if coll == "triggers":
                    if not data.get("title") or not isinstance(data.get("actions"), list):
                        raise ApiError(422, "RecordInvalid", "trigger.title and trigger.actions are required")
                    obj.setdefault("active", True)
                    obj.setdefault("position", len(_collection(coll)) + 1)
                    obj.setdefault("raw_title", data["title"])
                if coll == "ticket_fields":
                    obj.setdefault("active", True)
                    obj.setdefault("type", "text")
                _collection(coll)[oid] = obj
                return jsonify({one: copy.deepcopy(obj)}), 201

        def show(oid: str, coll=coll, one=one):
            with state.lock:
                obj = _collection(coll).get(_key(coll, oid))
                if obj is None:
                    raise _not_found(one)
                return jsonify({one: copy.deepcopy(obj)})

        def update(oid: str, coll=coll, one=one):
            data = _body().get(one)
            if not isinstance(data, dict):
                raise ApiError(400, "InvalidInput", f"{one}: object required")
            with state.lock:
                obj = _collection(coll).get(_key(coll, oid))
                if obj is None:
                    raise _not_found(one)
                obj.update({k: v for k, v in data.items() if k not in ("id", "signing_secret")})
                obj["updated_at"] = _iso(_utcnow())
                if coll == "webhooks":      # Zendesk answers webhook updates with 204 No Content
                    return Response(status=204)
                return jsonify({one: copy.deepcopy(obj)})

        def delete(oid: str, coll=coll, one=one):
            with state.lock:
                if _collection(coll).pop(_key(coll, oid), None) is None:
                    raise _not_found(one)
            return Response(status=204)

        base = f"{api}/{coll}"
        if coll != "webhooks":
            app.add_url_rule(base, f"{coll}_create", create, methods=["POST"])
        app.add_url_rule(base, f"{coll}_list", list_, methods=["GET"])
        app.add_url_rule(f"{base}/<oid>", f"{coll}_show", show, methods=["GET"])
        app.add_url_rule(f"{base}/<oid>", f"{coll}_update", update, methods=["PUT", "PATCH"])
        app.add_url_rule(f"{base}/<oid>", f"{coll}_delete", delete, methods=["DELETE"])

    @app.route(f"{api}/business_hours/schedules/<int:sid>/holidays", methods=["GET", "POST"])
    def schedule_holidays(sid: int):
        with state.lock:
            schedule = state.collections["business_hours/schedules"].get(sid)
            if schedule is None:
                raise _not_found("schedule")
            holidays = schedule.setdefault("holidays", [])
            if request.method == "GET":
                return jsonify({"holidays": copy.deepcopy(holidays)})
            data = _body().get("holiday")
            if not isinstance(data, dict) or not data.get("start_date"):
                raise ApiError(422, "RecordInvalid", "holiday.name, holiday.start_date, holiday.end_date required")
            holiday = {"id": state._oid(), "name": data.get("name", ""), "start_date": data["start_date"],
                       "end_date": data.get("end_date", data["start_date"])}
            holidays.append(holiday)
            return jsonify({"holiday": copy.deepcopy(holiday)}), 201

    # -- control plane (tests, demo, benchmarks) -------------------------------------------------
    @app.route("/_control/knobs", methods=["GET", "POST"])
    def control_knobs():
        return jsonify(state.set_knobs(**_body()) if request.method == "POST" else dict(state.knobs))

    @app.post("/_control/deliver/<int:ticket_id>")
    def control_deliver(ticket_id: int):
        return jsonify({"queued": state.redeliver(ticket_id, _body().get("event", "created"))})

    @app.get("/_control/stats")
    def control_stats():
        return jsonify(stats_of(state))

    @app.post("/_control/reset")
    def control_reset():
        state.reset()
        return jsonify({"ok": True})

    return app


def stats_of(state: State) -> dict[str, Any]:
    """Request counters: ``{"total": n, "requests": {"PUT /api/v2/tickets/<int:ticket_id> 200": 1},
    "by_endpoint": {"PUT /api/v2/tickets/<int:ticket_id>": {"200": 1}}, "by_status": {"200": 1}}``
    (route rules without ``.json``; ``requests`` keys split as ``method, rule, status``)."""
    with state.lock:
        requests_: dict[str, int] = {}
        by_endpoint: dict[str, dict[str, int]] = {}
        by_status: Counter = Counter()
        for (method, rule, status), n in state.stats.items():
            requests_[f"{method} {rule} {status}"] = n
            endpoint = by_endpoint.setdefault(f"{method} {rule}", {})
            endpoint[str(status)] = endpoint.get(str(status), 0) + n
            by_status[str(status)] += n
        return {"total": sum(state.stats.values()), "requests": requests_, "by_endpoint": by_endpoint,
                "by_status": dict(by_status)}


class ServerHandle:
    """A running local server: ``url``, ``netloc``, ``state``, knobs, seeding, deliveries, stats."""

    def __init__(self, state: State, server: Any, thread: threading.Thread, sender: Sender):
        self.state, self._server, self._thread, self._sender = state, server, thread, sender
        self.netloc = f"127.0.0.1:{server.server_port}"
        self.url = f"http://{self.netloc}"

    # connection details for Settings / ZendeskConnector
    @property
    def email(self) -> str:
        return self.state.email

    @property
    def token(self) -> str:
        return self.state.token

    @property
    def subdomain(self) -> str:
        return self.state.subdomain

    def settings_overrides(self) -> dict[str, Any]:
        """Keyword arguments for ``Settings`` pointing a connector at this server."""
        return {"zendesk_subdomain": self.subdomain, "zendesk_email": self.email,
                "zendesk_api_token": self.token, "zendesk_scheme": "http", "zendesk_netloc": self.netloc}

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._sender.stop()

    def reset(self) -> None:
        """Back to the seeded account with default knobs and zero stats; queued deliveries are
        dropped, in-flight ones finish first."""
        self._sender.clear()
        self._sender.wait(5)
        self.state.reset()

    def set_knobs(self, **knobs: Any) -> dict[str, Any]:
        return self.state.set_knobs(**knobs)

    def stats(self) -> dict[str, Any]:
        return stats_of(self.state)

    def count(self, method: str | None = None, path_contains: str = "", status: int | None = None) -> int:
        """Requests seen, filtered by method, a substring of the route rule and status."""
        with self.state.lock:
            return sum(n for (m, rule, s), n in self.state.stats.items()
                       if (method is None or m == method) and path_contains in rule and (status is None or s == status))

    # seeding (direct, no HTTP, no triggers unless asked)
    def seed_user(self, name: str, email: str | None = None, role: str = "end-user", **extra: Any) -> dict:
        return self.state.add_user(name, email, role=role, **extra)

    def seed_group(self, name: str, **extra: Any) -> dict:
        return self.state.add_group(name, **extra)

    def seed_organization(self, name: str, **extra: Any) -> dict:
        return self.state.add_organization(name, **extra)

    def seed_ticket(self, subject: str = "Help", description: str = "Please help", *, deliver: bool = False,
                    **fields: Any) -> dict:
        """Create a ticket as its requester would (default: a new end-user); triggers only if ``deliver``."""
        if "requester_id" not in fields and "requester" not in fields:
            fields["requester"] = {"name": "Casey Customer", "email": f"casey-{uuid.uuid4().hex[:8]}@customer.example"}
        channel = fields.pop("channel", "web")
        ticket, _ = self.state.create_ticket({"subject": subject, "comment": {"body": description}, **fields},
                                             via=channel, run_triggers=deliver)
        return ticket

    def seed(self, *, users: Iterable[dict] = (), groups: Iterable[dict] = (), organizations: Iterable[dict] = (),
             tickets: Iterable[dict] = ()) -> dict[str, list[dict]]:
        """Bulk seeding: dicts of keyword arguments for the ``seed_*`` methods."""
        return {"groups": [self.seed_group(**g) for g in groups],
                "organizations": [self.seed_organization(**o) for o in organizations],
                "users": [self.seed_user(**u) for u in users],
                "tickets": [self.seed_ticket(**t) for t in tickets]}

    def add_comment(self, ticket_id: int, body: str, *, author_id: int | None = None, public: bool = True,
                    channel: str = "web") -> dict:
        """A comment as its author would add it (default: the requester), running triggers."""
        ticket = self.state.ticket(ticket_id)
        author = author_id or ticket["requester_id"]
        updated, _ = self.state.update_ticket(ticket_id, {"comment": {"body": body, "public": public, "author_id": author}},
                                              author_id=author, via=channel, check_conflict=False)
        return updated

    def update_ticket(self, ticket_id: int, *, author_id: int = 201, channel: str = "web", **fields: Any) -> dict:
        """An agent's edit in the UI (no conflict knob), running triggers."""
        updated, _ = self.state.update_ticket(ticket_id, fields, author_id=author_id, via=channel, check_conflict=False)
        return updated

    def import_example(self, obj: dict, now: datetime, *, deliver: bool = True) -> int:
        """Import one ``examples/tickets.jsonl`` object (HACKING.md format) with its timestamps kept;
        creates the requester and organization if new. ``deliver``: run the ticket-created triggers
        and event webhooks as if it had just arrived (the demo relies on this)."""
        state = self.state
        with state.lock:
            org_id = None
            org = obj.get("organization")
            if org:
                found = [o for o in state.organizations.values() if o["name"].lower() == org["name"].lower()]
                if found:
                    org_id = found[0]["id"]
                else:
                    fields_: dict[str, Any] = {}
                    if org.get("segment") is not None:
                        fields_["segment"] = org["segment"]
                    if org.get("account_value") is not None:
                        fields_["account_value"] = org["account_value"]
                    if org.get("renewal_in_days") is not None:
                        fields_["renewal_date"] = (now + timedelta(days=org["renewal_in_days"])).date().isoformat()
                    org_id = state.add_organization(org["name"], organization_fields=fields_,
                                                    tags=[org["segment"]] if org.get("segment") else [])["id"]
            req = obj["requester"]
            user = state.find_user(req["email"]) or state.add_user(req["name"], req["email"], organization_id=org_id)
            created = now - timedelta(minutes=obj.get("age_minutes", 0))
            channel = obj.get("channel") or "web"
            agent = obj.get("assignee_id") or next(
                (u["id"] for u in state.users.values() if u["role"] == "agent"
                 and u.get("default_group_id") == obj.get("group_id")), DEFAULT_AGENTS[0][0])
            comments = [{"author_id": user["id"], "value": obj["description"], "public": True,
                         "created_at": _iso(created), "channel": channel}]
            for c in obj.get("comments") or []:
                comments.append({"author_id": user["id"] if c.get("author", "customer") == "customer" else agent,
                                 "value": c["body"], "public": c.get("public", True),
                                 "created_at": _iso(now - timedelta(minutes=c.get("minutes_ago", 0))),
                                 "channel": c.get("channel") or channel})
            ticket = state.import_ticket({
                "external_id": obj.get("external_id"), "subject": obj["subject"], "priority": obj.get("priority"),
                "status": obj.get("status") or "new", "type": obj.get("type"), "tags": obj.get("tags") or [],
                "group_id": obj.get("group_id"), "assignee_id": obj.get("assignee_id"), "requester_id": user["id"],
                "organization_id": org_id, "via": {"channel": channel}, "created_at": _iso(created),
                "comments": comments})
            if deliver:
                first = state.comments[ticket["id"]][0]
                state._fire(None, state.tickets[ticket["id"]], first, "Create", channel, user["id"])
            return ticket["id"]

    def delete_ticket(self, ticket_id: int) -> None:
        """The ticket disappears (later reads answer 404)."""
        self.state.delete_ticket(ticket_id)

    def deliver(self, ticket_id: int, event: str = "created") -> int:
        """Re-send the ticket's webhooks (see ``State.redeliver``); returns how many were queued."""
        return self.state.redeliver(ticket_id, event)

    def deliveries(self) -> list[dict]:
        """Every delivery so far: webhook_id, ticket_id, event, attempts, status, ok, error (no secrets)."""
        with self.state.lock:
            return [{k: v for k, v in d.items() if k != "secret"} for d in self.state.deliveries]

    def wait_deliveries(self, timeout: float = 10.0) -> bool:
        """Block until every queued delivery (and retry) is done; False on timeout."""
        return self._sender.wait(timeout)


def start_server(port: int = 0, *, email: str = DEFAULT_EMAIL, token: str = DEFAULT_TOKEN,
                 subdomain: str = DEFAULT_SUBDOMAIN, sender_threads: int = 4, **knobs: Any) -> ServerHandle:
    """Start the server on 127.0.0.1:``port`` (0 = a free port) in a background thread."""
    state = State(email=email, token=token, subdomain=subdomain)
    server = make_server("127.0.0.1", port, _StripJson(create_app(state)), threaded=True,
                         request_handler=_QuietHandler)
    state.base_url = f"http://127.0.0.1:{server.server_port}"
    sender = Sender(state, threads=sender_threads)
    state.outbox = sender.put
    if knobs:
        state.set_knobs(**knobs)
    thread = threading.Thread(target=server.serve_forever, name="zendesk-local", daemon=True)
    thread.start()
    return ServerHandle(state, server, thread, sender)
