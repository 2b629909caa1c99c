"""A local Zammad-compatible server for tests and the demo (Flask in a thread, real HTTP).

It implements the slice of Zammad's REST API v1 tiergate uses, in Zammad's shapes:
tickets (``/api/v1/tickets``, ``?expand=true``), articles (``/api/v1/ticket_articles``,
``/by_ticket/{id}``), tags (``/api/v1/tags``, ``/tags/add``, ``/tags/remove``), history
(``/api/v1/ticket_history/{id}`` -> ``{"history": [...], "assets": {}}``), users, organizations,
groups, ticket states/priorities, webhooks and triggers CRUD. Auth is ``Authorization: Token
token=<token>`` (or ``Bearer``). Errors are ``{"error": ..., "error_human": ...}``.

Deliveries: on ticket create, new article and group change, every active trigger whose condition
holds fires its webhook: a POST of ``{"ticket": {...}, "article": {...}}`` with ``X-Zammad-Trigger``,
``X-Zammad-Delivery`` and, when the webhook has a ``signature_token``, ``X-Hub-Signature:
sha1=<hex HMAC-SHA1(body)>``; failed deliveries are retried up to 4 times, like Zammad. Supported
trigger conditions: ``ticket.action`` (is create/update), ``article.sender_id`` (is [ids]),
``article.internal``, ``ticket.group_id`` (is [ids] / has changed), ``ticket.state_id``,
``ticket.priority_id``; anything else is refused with 422 naming the key.

Demo-account seed: groups 100-111 and agents 201-211 from HACKING.md, the API user 299 "tiergate
bot" (token ``DEFAULT_TOKEN``), user 1 "-" (Zammad's "nobody": ``owner_id: 1`` = unassigned),
Zammad's default states, and priorities ``1 low``, ``2 normal``, ``3 high`` plus ``4 urgent`` (an
admin-added priority; stock Zammad has three).

Knobs (``start_server(**knobs)``, ``handle.set_knobs``, ``POST /_control/knobs``):
``rate_limit_per_minute`` (429 + Retry-After), ``latency_ms``, ``fail_next`` + ``fail_status``
(default 503), ``conflict_next`` (next N writes answer 409). ``handle.stats()`` counts requests
(same shape as the Zendesk server's, plus write / suppress-header counts); ``handle.requests()``
lists them; ``handle.reset()`` / ``POST /_control/reset`` go back to the seeded account.
"""
from __future__ import annotations

import copy
import itertools
import json
import queue
import re
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

import requests
from flask import Flask, Response, g, request
from werkzeug.serving import WSGIRequestHandler, make_server

from tiergate.connectors import zammad_webhook

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
          112: "Privacy", 113: "Legal", 114: "Team Leads", 115: "Review Queue",
          116: "Customer Success"}
AGENTS = {201: ("Ana", "Frontline", 101), 202: ("Ben", "Specialist", 102), 203: ("Cy", "Engineer", 103),
          204: ("Dee", "Manager", 104), 210: ("Fin", "Billing", 110), 211: ("Sec", "Lead", 111),
          212: ("Pia", "Privacy", 112), 213: ("Lee", "Legal", 113), 214: ("Tia", "Lead", 114),
          215: ("Rex", "Reviewer", 115), 216: ("Cas", "Success", 116)}
# examples format -> Zammad
EXAMPLE_STATUS = {"new": 1, "open": 2, "pending": 7, "hold": 3, "solved": 4, "closed": 4}
EXAMPLE_CHANNEL = {"email": "email", "web": "web", "chat": "chat", "voice": "phone", "api": "web"}
DEFAULT_GROUP = 101
HISTORY_ATTRS = {"group_id": ("group", GROUPS), "state_id": ("state", STATES),
                 "priority_id": ("priority", PRIORITIES), "owner_id": ("owner", None)}
CONDITION_KEYS = {"ticket.action", "article.sender_id", "article.internal", "ticket.group_id",
                  "ticket.state_id", "ticket.priority_id"}


def _ts(at: datetime) -> str:
    at = at.astimezone(timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # stats() records requests instead
        pass


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ZammadState:
    """The in-memory desk. Mutate only under ``lock`` (the handle's helpers do)."""

    groups: dict[int, dict] = field(default_factory=dict)
    users: dict[int, dict] = field(default_factory=dict)
    organizations: dict[int, dict] = field(default_factory=dict)
    tickets: dict[int, dict] = field(default_factory=dict)
    articles: dict[int, dict] = field(default_factory=dict)
    tags: dict[int, list[str]] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    webhooks: dict[int, dict] = field(default_factory=dict)
    triggers: dict[int, dict] = field(default_factory=dict)
    deliveries: list[dict] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _ids: dict[str, itertools.count] = field(default_factory=dict, repr=False)

    def next_id(self, kind: str, start: int = 1) -> int:
        counter = self._ids.setdefault(kind, itertools.count(start))
        return next(counter)

    def clear(self) -> None:
        with self.lock:
            for name in ("groups", "users", "organizations", "tickets", "articles", "tags", "webhooks",
                         "triggers"):
                getattr(self, name).clear()
            self.history.clear()
            self.deliveries.clear()
            self._ids.clear()

    def api_snapshot(self) -> dict[str, Any]:
        """Everything an API client can see (for before/after comparisons)."""
        with self.lock:
            return copy.deepcopy({
                "groups": self.groups, "users": self.users, "organizations": self.organizations,
                "tickets": self.tickets, "articles": self.articles, "tags": self.tags,
                "history": self.history, "webhooks": self.webhooks, "triggers": self.triggers})


@dataclass
class Knobs:
    rate_limit_per_minute: int | None = None
    latency_ms: float = 0.0
    fail_next: int = 0
    fail_status: int = 503
    conflict_next: int = 0


class _Desk:
    """Domain logic over ``ZammadState`` (no HTTP); the Flask views and the handle call it."""

    def __init__(self, state: ZammadState, token: str):
        self.state = state
        self.token = token
        self.outbox: "queue.Queue[dict | None]" = queue.Queue()
        self.clock_last: dict[int, datetime] = {}
        self._seed()

    # -- seed --------------------------------------------------------------------------------
    def _seed(self) -> None:
        s = self.state
        created = _ts(datetime(2024, 1, 1, tzinfo=timezone.utc))
        for gid, name in GROUPS.items():
            s.groups[gid] = {"id": gid, "name": name, "active": True, "note": None,
                             "created_at": created, "updated_at": created}
        s.users[NOBODY_ID] = self._user(NOBODY_ID, "-", "", "", [], created)
        for uid, (first, last, gid) in AGENTS.items():
            s.users[uid] = self._user(uid, first, last, f"{first.lower()}@agents.example", [ROLE_AGENT],
                                      created, group_ids={str(gid): ["full"]})
        s.users[BOT_ID] = self._user(BOT_ID, "tiergate", "bot", "tiergate-bot@agents.example",
                                     [ROLE_ADMIN, ROLE_AGENT], created,
                                     group_ids={str(g): ["full"] for g in GROUPS})

    @staticmethod
    def _user(uid: int, first: str, last: str, email: str, roles: list[int], at: str, *,
              group_ids: dict | None = None, organization_id: int | None = None) -> dict:
        return {"id": uid, "login": email or first, "firstname": first, "lastname": last, "email": email,
                "organization_id": organization_id, "role_ids": roles, "group_ids": group_ids or {},
                "active": True, "vip": False, "created_at": at, "updated_at": at}

    # -- helpers -------------------------------------------------------------------------------
    def now(self, ticket_id: int | None = None) -> datetime:
        """Wall clock, strictly increasing per ticket (so every write moves ``updated_at``)."""
        wall = datetime.now(timezone.utc)
        at = wall.replace(microsecond=wall.microsecond // 1000 * 1000)
        if ticket_id is not None:
            last = self.clock_last.get(ticket_id)
            if last is not None and at <= last:
                at = last + timedelta(milliseconds=1)
            self.clock_last[ticket_id] = at
        return at

    def ticket(self, ticket_id: int) -> dict:
        t = self.state.tickets.get(ticket_id)
        if t is None:
            raise ApiError(404, f"Couldn't find Ticket with 'id'={ticket_id}")
        return t

    def expand(self, t: dict) -> dict:
        s = self.state
        out = dict(t)
        out["group"] = s.groups.get(t["group_id"], {}).get("name")
        out["state"] = STATES.get(t["state_id"])
        out["priority"] = PRIORITIES.get(t["priority_id"])
        owner = s.users.get(t["owner_id"] or NOBODY_ID, {})
        out["owner"] = owner.get("login")
        out["customer"] = s.users.get(t["customer_id"], {}).get("login")
        out["organization"] = s.organizations.get(t["organization_id"] or 0, {}).get("name")
        out["tags"] = list(s.tags.get(t["id"], []))
        out["article_ids"] = [a["id"] for a in self.articles_of(t["id"])]
        return out

    def articles_of(self, ticket_id: int) -> list[dict]:
        return sorted((a for a in self.state.articles.values() if a["ticket_id"] == ticket_id),
                      key=lambda a: (a["created_at"], a["id"]))

    def _history(self, ticket_id: int, at: datetime, by: int, htype: str, obj: str = "Ticket",
                 attr: str | None = None, value_from: Any = None, value_to: Any = None,
                 id_from: Any = None, id_to: Any = None, o_id: int | None = None) -> None:
        self.state.history.append({
            "id": self.state.next_id("history"), "o_id": o_id if o_id is not None else ticket_id,
            "history_type": htype, "history_object": obj, "history_attribute": attr,
            "value_from": value_from, "value_to": value_to, "id_from": id_from, "id_to": id_to,
            "related_o_id": ticket_id if obj != "Ticket" else None,
            "related_history_object": "Ticket" if obj != "Ticket" else None,
            "created_at": _ts(at), "created_by_id": by})

    def _touch(self, t: dict, at: datetime, by: int) -> None:
        t["updated_at"] = _ts(at)
        t["updated_by_id"] = by

    # -- users / orgs ------------------------------------------------------------------------
    def find_or_create_customer(self, name: str, email: str, org_id: int | None, at: datetime) -> int:
        for u in self.state.users.values():
            if u["email"] and u["email"].lower() == email.lower():
                return u["id"]
        first, _, last = name.partition(" ")
        uid = self.state.next_id("user", 1000)
        self.state.users[uid] = self._user(uid, first, last, email, [ROLE_CUSTOMER], _ts(at),
                                           organization_id=org_id)
        return uid

    def find_or_create_org(self, org: Mapping[str, Any], at: datetime) -> int:
        for o in self.state.organizations.values():
            if o["name"] == org["name"]:
                return o["id"]
        oid = self.state.next_id("organization", 500)
        renewal = org.get("renewal_in_days")
        self.state.organizations[oid] = {
            "id": oid, "name": org["name"], "shared": True, "domain": "", "vip": org.get("segment") == "vip",
            "active": True, "note": "", "segment": org.get("segment"),
            "account_value": org.get("account_value"),
            "renewal_at": _ts(at + timedelta(days=renewal)) if renewal is not None else None,
            "created_at": _ts(at), "updated_at": _ts(at)}
        return oid

    # -- tickets -----------------------------------------------------------------------------
    def create_ticket(self, data: Mapping[str, Any], by: int, *, at: datetime | None = None,
                      created_at: datetime | None = None, fire: bool = True) -> dict:
        s = self.state
        title = data.get("title")
        if not isinstance(title, str) or not title.strip():
            raise ApiError(422, "title: required")
        group_id = data.get("group_id", DEFAULT_GROUP)
        if group_id not in s.groups:
            raise ApiError(422, f"group_id: no group {group_id!r}")
        customer_id = data.get("customer_id")
        if customer_id not in s.users:
            raise ApiError(422, f"customer_id: no user {customer_id!r}")
        state_id = data.get("state_id", 1)
        priority_id = data.get("priority_id", 2)
        if state_id not in STATES:
            raise ApiError(422, f"state_id: unknown {state_id!r}")
        if priority_id not in PRIORITIES:
            raise ApiError(422, f"priority_id: unknown {priority_id!r}")
        owner_id = data.get("owner_id") or NOBODY_ID
        if owner_id not in s.users:
            raise ApiError(422, f"owner_id: no user {owner_id!r}")
        tid = s.next_id("ticket")
        at = at or self.now(tid)
        self.clock_last[tid] = at
        created = created_at or at
        t = {"id": tid, "number": str(31000 + tid), "title": title, "group_id": group_id,
             "state_id": state_id, "priority_id": priority_id, "owner_id": owner_id,
             "customer_id": customer_id,
             "organization_id": data.get("organization_id", s.users[customer_id].get("organization_id")),
             "note": None, "type": data.get("type"), "pending_time": None,
             "create_article_type_id": None, "create_article_sender_id": None, "article_count": 0,
             "first_response_at": None, "close_at": None, "last_contact_at": None,
             "last_contact_customer_at": None, "last_contact_agent_at": None, "escalation_at": None,
             "preferences": {}, "created_by_id": by, "updated_by_id": by,
             "created_at": _ts(created), "updated_at": _ts(at)}
        for key, value in data.items():
            if key not in t and key not in ("article", "tags", "id") and not key.startswith("_"):
                t[key] = value  # custom object attributes live at the top level in Zammad
        s.tickets[tid] = t
        s.tags[tid] = []
        self._history(tid, created, by, "created")
        first = None
        article = data.get("article")
        if isinstance(article, Mapping):
            first = self._add_article(t, article, by, at=created, fire=False)
            t["create_article_type_id"] = first["type_id"]
            t["create_article_sender_id"] = first["sender_id"]
        tags = data.get("tags") or []
        if isinstance(tags, str):
            tags = [x.strip() for x in tags.split(",") if x.strip()]
        for tag in tags:
            if tag not in s.tags[tid]:
                s.tags[tid].append(tag)
        t["updated_at"] = _ts(at)
        if fire:
            self.fire(t, {"action": "create", "article": first, "changed": set()})
        return t

    def update_ticket(self, tid: int, data: Mapping[str, Any], by: int) -> dict:
        s = self.state
        t = self.ticket(tid)
        changes = {}
        for key, value in data.items():
            if key in ("id", "article", "updated_at", "created_at", "number"):
                continue
            if key in ("group_id",) and value not in s.groups:
                raise ApiError(422, f"group_id: no group {value!r}")
            if key == "owner_id" and value is not None and value not in s.users:
                raise ApiError(422, f"owner_id: no user {value!r}")
            if key == "priority_id" and value not in PRIORITIES:
                raise ApiError(422, f"priority_id: unknown {value!r}")
            if key == "state_id" and value not in STATES:
                raise ApiError(422, f"state_id: unknown {value!r}")
            if key in ("state", "priority", "group"):
                raise ApiError(422, f"{key}: send {key}_id")
            if key == "owner_id" and value is None:
                value = NOBODY_ID
            if t.get(key) != value:
                changes[key] = (t.get(key), value)
        article = data.get("article")
        if not changes and not isinstance(article, Mapping):
            return t
        at = self.now(tid)
        for key, (old, new) in changes.items():
            t[key] = new
            if key in HISTORY_ATTRS:
                attr, names = HISTORY_ATTRS[key]
                if names is None:
                    name = lambda i: s.users.get(i, {}).get("login")  # noqa: E731
                else:
                    name = names.get
                self._history(tid, at, by, "updated", attr=attr, value_from=name(old), value_to=name(new),
                              id_from=old, id_to=new)
        self._touch(t, at, by)
        new_article = None
        if isinstance(article, Mapping):
            new_article = self._add_article(t, article, by, at=at, fire=False)
        self.fire(t, {"action": "update", "article": new_article, "changed": set(changes)})
        return t

    def _add_article(self, t: dict, data: Mapping[str, Any], by: int, *, at: datetime,
                     fire: bool = True) -> dict:
        body = data.get("body")
        if not isinstance(body, str) or body == "":
            raise ApiError(422, "body: required")
        type_name = data.get("type", "note")
        if type_name not in ARTICLE_TYPE_IDS:
            raise ApiError(422, f"type: unknown article type {type_name!r}")
        author = self.state.users.get(data.get("origin_by_id") or data.get("created_by_id") or by, {})
        default_sender = "Customer" if ROLE_CUSTOMER in author.get("role_ids", []) else "Agent"
        sender = data.get("sender", default_sender)
        if sender not in SENDER_IDS:
            raise ApiError(422, f"sender: unknown {sender!r}")
        internal = data.get("internal", False)
        if not isinstance(internal, bool):
            raise ApiError(422, "internal: must be true or false")
        aid = self.state.next_id("article")
        art = {"id": aid, "ticket_id": t["id"], "type_id": ARTICLE_TYPE_IDS[type_name], "type": type_name,
               "sender_id": SENDER_IDS[sender], "sender": sender, "from": author.get("email") or "",
               "to": data.get("to", ""), "cc": None, "subject": data.get("subject"), "body": body,
               "content_type": data.get("content_type", "text/plain"), "internal": internal,
               "message_id": None, "in_reply_to": None, "preferences": {}, "attachments": [],
               "origin_by_id": data.get("origin_by_id"), "created_by_id": author.get("id", by),
               "updated_by_id": by, "created_at": _ts(at), "updated_at": _ts(at)}
        self.state.articles[aid] = art
        t["article_count"] = t.get("article_count", 0) + 1
        if sender != "System":
            t["last_contact_at"] = art["created_at"]
            t[f"last_contact_{'customer' if sender == 'Customer' else 'agent'}_at"] = art["created_at"]
        self._history(t["id"], at, by, "created", obj="Ticket::Article", o_id=aid)
        if fire:
            touch_at = self.now(t["id"])
            self._touch(t, max(touch_at, at), by)
            self.fire(t, {"action": "update", "article": art, "changed": set()})
        return art

    def add_article(self, data: Mapping[str, Any], by: int) -> dict:
        tid = data.get("ticket_id")
        if not isinstance(tid, int):
            raise ApiError(422, "ticket_id: required integer")
        t = self.ticket(tid)
        return self._add_article(t, data, by, at=self.now(tid))

    def tag(self, op: str, data: Mapping[str, Any], by: int) -> None:
        if data.get("object") != "Ticket":
            raise ApiError(422, "object: only Ticket is supported here")
        o_id, item = data.get("o_id"), data.get("item")
        try:
            o_id = int(o_id)
        except (TypeError, ValueError):
            raise ApiError(422, "o_id: required integer") from None
        if not isinstance(item, str) or not item.strip():
            raise ApiError(422, "item: required tag name")
        t = self.ticket(o_id)
        tags = self.state.tags.setdefault(o_id, [])
        item = item.strip()
        if op == "add" and item not in tags:
            tags.append(item)
        elif op == "remove" and item in tags:
            tags.remove(item)
        else:
            return
        at = self.now(o_id)
        self._history(o_id, at, by, "added" if op == "add" else "removed", attr="tag", value_to=item)
        self._touch(t, at, by)

    # -- triggers and deliveries ---------------------------------------------------------------
    @staticmethod
    def check_condition(condition: Any) -> None:
        if not isinstance(condition, Mapping) or not condition:
            raise ApiError(422, "condition: required object")
        for key, spec in condition.items():
            if key not in CONDITION_KEYS:
                raise ApiError(422, f"condition.{key}: not supported by this server "
                                    f"(supported: {', '.join(sorted(CONDITION_KEYS))})")
            if not isinstance(spec, Mapping) or "operator" not in spec:
                raise ApiError(422, f"condition.{key}: needs an operator")

    @staticmethod
    def _holds(condition: Mapping[str, Any], t: dict, event: dict) -> bool:
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

    def fire(self, t: dict, event: dict) -> None:
        for trig in sorted(self.state.triggers.values(), key=lambda x: x["name"]):
            if not trig.get("active", True):
                continue
            perform = trig.get("perform", {}).get("notification.webhook")
            if not perform or not self._holds(trig["condition"], t, event):
                continue
            hook = self.state.webhooks.get(int(perform.get("webhook_id", 0)))
            if hook is None or not hook.get("active", True):
                continue
            self.outbox.put({"webhook": dict(hook), "trigger": trig["name"], "ticket_id": t["id"],
                             "payload": self.payload(t, event.get("article"), hook)})

    def payload(self, t: dict, article: dict | None, hook: Mapping[str, Any]) -> bytes:
        if hook.get("customized_payload") and hook.get("custom_payload"):
            text = str(hook["custom_payload"]).replace("#{ticket.id}", str(t["id"]))
            return text.encode("utf-8")
        ticket = self.expand(t)
        ticket["customer"] = {k: self.state.users.get(t["customer_id"], {}).get(k)
                              for k in ("id", "login", "firstname", "lastname", "email")}
        return json.dumps({"ticket": ticket, "article": dict(article) if article else {}}).encode("utf-8")


class _Delivery(threading.Thread):
    """Posts queued webhook deliveries; up to 4 retries, like Zammad."""

    def __init__(self, desk: _Desk):
        super().__init__(daemon=True, name="zammad-webhooks")
        self.desk = desk
        self.session = requests.Session()
        self.pending = 0
        self.cond = threading.Condition()

    def run(self) -> None:
        while True:
            job = self.desk.outbox.get()
            if job is None:
                return
            try:
                self._send(job)
            finally:
                with self.cond:
                    self.pending -= 1
                    self.cond.notify_all()

    def _send(self, job: dict) -> None:
        hook = job["webhook"]
        delivery_id = str(uuid.uuid4())
        body = job["payload"]
        if hook.get("signature_token"):
            headers = zammad_webhook.signed_headers(body, hook["signature_token"], delivery_id, job["trigger"])
        else:
            headers = {"Content-Type": "application/json", "User-Agent": zammad_webhook.USER_AGENT,
                       zammad_webhook.TRIGGER_HEADER: job["trigger"],
                       zammad_webhook.DELIVERY_HEADER: delivery_id}
        record = {"delivery_id": delivery_id, "webhook_id": hook["id"], "trigger": job["trigger"],
                  "ticket_id": job["ticket_id"], "endpoint": hook["endpoint"], "attempts": 0,
                  "status": None, "error": None}
        for attempt in range(5):
            record["attempts"] = attempt + 1
            try:
                resp = self.session.post(hook["endpoint"], data=body, headers=headers, timeout=10)
                record["status"], record["error"] = resp.status_code, None
                if resp.status_code < 500 and resp.status_code != 429:
                    break
            except requests.RequestException as exc:
                record["error"] = str(exc)
            time.sleep(0.05 * (2 ** attempt))
        with self.desk.state.lock:
            self.desk.state.deliveries.append(record)


def stats_of(stats: Counter) -> dict[str, Any]:
    by_endpoint: dict[str, dict[str, int]] = {}
    by_status: Counter = Counter()
    out: dict[str, Any] = {"writes": 0, "writes_without_suppress": 0, "rate_limited": 0, "failed": 0,
                           "conflicts": 0}
    for key, n in list(stats.items()):
        if isinstance(key, tuple):
            _, method, rule, status = key
            slot = by_endpoint.setdefault(f"{method} {rule}", {})
            slot[str(status)] = slot.get(str(status), 0) + n
            by_status[str(status)] += n
        else:
            out[key] = n
    requests_ = {f"{m} {r} {st}": n for (_, m, r, st), n in
                 ((k, v) for k, v in list(stats.items()) if isinstance(k, tuple))}
    return {"total": sum(by_status.values()), "by_endpoint": by_endpoint, "by_status": dict(by_status),
            "requests": requests_, **out}


def _app(desk: _Desk, knobs: Knobs, stats: Counter, log: deque, window: deque) -> Flask:
    app = Flask("tiergate-zammad-local")
    state = desk.state

    def ok(data: Any, status: int = 200) -> Response:
        return Response(json.dumps(data), status=status, mimetype="application/json")

    def err(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
        resp = ok({"error": message, "error_human": message}, status)
        for k, v in (headers or {}).items():
            resp.headers[k] = v
        return resp

    def body() -> dict:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ApiError(422, "body: expected a JSON object")
        return data

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return err(exc.status, exc.message)

    @app.errorhandler(404)
    def _nf(exc):
        return err(404, f"No route matches [{request.method}] {request.path}")

    @app.errorhandler(405)
    def _na(exc):
        return err(404, f"No route matches [{request.method}] {request.path}")

    @app.before_request
    def _before():
        if request.path.startswith("/_control"):
            return None
        write = request.method in ("POST", "PUT", "DELETE", "PATCH")
        suppressed = request.headers.get("X-Zammad-Suppress-Notifications", "").lower() == "true"
        route = request.url_rule.rule if request.url_rule else request.path
        g.entry = {"method": request.method, "path": request.full_path.rstrip("?"), "route": route,
                   "write": write, "suppress_notifications": suppressed, "status": None}
        log.append(g.entry)
        if write:
            stats["writes"] += 1
            if not suppressed:
                stats["writes_without_suppress"] += 1
        if knobs.latency_ms:
            time.sleep(knobs.latency_ms / 1000.0)
        auth = request.headers.get("Authorization", "")
        token = auth[len("Token token="):] if auth.startswith("Token token=") else (
            auth[len("Bearer "):] if auth.startswith("Bearer ") else None)
        if token != desk.token:
            return err(401, "authentication failed")
        with state.lock:
            if knobs.rate_limit_per_minute:
                now = time.monotonic()
                while window and now - window[0] > 60:
                    window.popleft()
                if len(window) >= knobs.rate_limit_per_minute:
                    retry = max(1, int(60 - (now - window[0])) + 1)
                    stats["rate_limited"] += 1
                    return err(429, "Too Many Requests", {"Retry-After": str(retry)})
                window.append(now)
            if knobs.fail_next > 0:
                knobs.fail_next -= 1
                stats["failed"] += 1
                return err(knobs.fail_status, "injected failure")
            if write and knobs.conflict_next > 0:
                knobs.conflict_next -= 1
                stats["conflicts"] += 1
                return err(409, "injected conflict: the object was changed meanwhile")
        return None

    @app.after_request
    def _after(resp):
        entry = g.get("entry")
        if entry is not None:
            entry["status"] = resp.status_code
            stats[("req", entry["method"], entry["route"], resp.status_code)] += 1
        return resp

    def me() -> int:
        return BOT_ID

    # -- control -------------------------------------------------------------------------------
    @app.post("/_control/knobs")
    def _knobs():
        data = request.get_json(silent=True) or {}
        for key, value in data.items():
            if not hasattr(knobs, key):
                return err(422, f"{key}: unknown knob")
            setattr(knobs, key, value)
        return ok(vars(knobs))

    @app.post("/_control/reset")
    def _reset():
        with state.lock:
            state.clear()
            desk.clock_last.clear()
            desk._seed()
            knobs.__dict__.update(vars(Knobs()))
        stats.clear()
        log.clear()
        return ok({"ok": True})

    @app.get("/_control/stats")
    def _stats():
        return ok(stats_of(stats))

    # -- reference data ------------------------------------------------------------------------
    @app.get("/api/v1/users/me")
    def users_me():
        return ok(state.users[me()])

    @app.get("/api/v1/users/<int:uid>")
    def user_show(uid: int):
        with state.lock:
            if uid not in state.users:
                raise ApiError(404, f"Couldn't find User with 'id'={uid}")
            return ok(state.users[uid])

    @app.get("/api/v1/organizations/<int:oid>")
    def org_show(oid: int):
        with state.lock:
            if oid not in state.organizations:
                raise ApiError(404, f"Couldn't find Organization with 'id'={oid}")
            return ok(state.organizations[oid])

    @app.get("/api/v1/groups")
    def groups():
        return ok(list(state.groups.values()))

    @app.get("/api/v1/ticket_states")
    def ticket_states():
        return ok([{"id": i, "name": n, "active": True} for i, n in STATES.items()])

    @app.get("/api/v1/ticket_priorities")
    def ticket_priorities():
        return ok([{"id": i, "name": n, "active": True} for i, n in PRIORITIES.items()])

    # -- tickets -------------------------------------------------------------------------------
    @app.get("/api/v1/tickets")
    def tickets_index():
        page = max(1, request.args.get("page", 1, type=int))
        per_page = min(100, max(1, request.args.get("per_page", 50, type=int)))
        expand = request.args.get("expand") == "true"
        with state.lock:
            rows = [state.tickets[i] for i in sorted(state.tickets)]
            rows = rows[(page - 1) * per_page: page * per_page]
            return ok([desk.expand(t) if expand else t for t in rows])

    @app.post("/api/v1/tickets")
    def tickets_create():
        data = body()
        with state.lock:
            return ok(desk.expand(desk.create_ticket(data, me())), 201)

    @app.get("/api/v1/tickets/<int:tid>")
    def tickets_show(tid: int):
        with state.lock:
            t = desk.ticket(tid)
            return ok(desk.expand(t) if request.args.get("expand") == "true" else t)

    @app.put("/api/v1/tickets/<int:tid>")
    def tickets_update(tid: int):
        data = body()
        with state.lock:
            return ok(desk.expand(desk.update_ticket(tid, data, me())))

    @app.delete("/api/v1/tickets/<int:tid>")
    def tickets_delete(tid: int):
        with state.lock:
            desk.ticket(tid)
            del state.tickets[tid]
            state.tags.pop(tid, None)
            for aid in [a["id"] for a in desk.articles_of(tid)]:
                del state.articles[aid]
            return ok({})

    @app.get("/api/v1/ticket_articles/by_ticket/<int:tid>")
    def articles_by_ticket(tid: int):
        with state.lock:
            desk.ticket(tid)
            return ok(desk.articles_of(tid))

    @app.get("/api/v1/ticket_articles/<int:aid>")
    def article_show(aid: int):
        with state.lock:
            if aid not in state.articles:
                raise ApiError(404, f"Couldn't find Ticket::Article with 'id'={aid}")
            return ok(state.articles[aid])

    @app.post("/api/v1/ticket_articles")
    def article_create():
        data = body()
        with state.lock:
            return ok(desk.add_article(data, me()), 201)

    @app.get("/api/v1/tags")
    def tags_list():
        if request.args.get("object") != "Ticket":
            raise ApiError(422, "object: only Ticket is supported here")
        tid = request.args.get("o_id", type=int)
        if tid is None:
            raise ApiError(422, "o_id: required integer")
        with state.lock:
            desk.ticket(tid)
            return ok({"tags": list(state.tags.get(tid, []))})

    @app.post("/api/v1/tags/add")
    def tags_add():
        data = body()
        with state.lock:
            desk.tag("add", data, me())
        return ok(True)

    @app.delete("/api/v1/tags/remove")
    def tags_remove():
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            data = dict(request.args)
        with state.lock:
            desk.tag("remove", data, me())
        return ok(True)

    @app.get("/api/v1/ticket_history/<int:tid>")
    def ticket_history(tid: int):
        with state.lock:
            desk.ticket(tid)
            rows = [h for h in state.history if (h["o_id"] == tid and h["history_object"] == "Ticket")
                    or h.get("related_o_id") == tid]
            return ok({"history": copy.deepcopy(rows), "assets": {}})

    # -- webhooks and triggers ------------------------------------------------------------------
    def crud(kind: str, store: dict, required: tuple[str, ...], check=None):
        label = kind.capitalize()

        def index():
            with state.lock:
                return ok([store[i] for i in sorted(store)])

        def create():
            data = body()
            for key in required:
                if data.get(key) in (None, ""):
                    raise ApiError(422, f"{key}: required")
            if check:
                check(data)
            with state.lock:
                oid = state.next_id(kind)
                at = _ts(desk.now())
                store[oid] = {**{k: v for k, v in data.items() if k != "id"}, "id": oid,
                              "active": data.get("active", True), "created_at": at, "updated_at": at}
                return ok(store[oid], 201)

        def show(oid: int):
            with state.lock:
                if oid not in store:
                    raise ApiError(404, f"Couldn't find {label} with 'id'={oid}")
                return ok(store[oid])

        def update(oid: int):
            data = body()
            if check and "condition" in data:
                check(data)
            with state.lock:
                if oid not in store:
                    raise ApiError(404, f"Couldn't find {label} with 'id'={oid}")
                store[oid].update({k: v for k, v in data.items() if k not in ("id", "created_at")})
                store[oid]["updated_at"] = _ts(desk.now())
                return ok(store[oid])

        def destroy(oid: int):
            with state.lock:
                if oid not in store:
                    raise ApiError(404, f"Couldn't find {label} with 'id'={oid}")
                del store[oid]
                return ok({})

        base = f"/api/v1/{kind}s"
        app.add_url_rule(base, f"{kind}_index", index, methods=["GET"])
        app.add_url_rule(base, f"{kind}_create", create, methods=["POST"])
        app.add_url_rule(f"{base}/<int:oid>", f"{kind}_show", show, methods=["GET"])
        app.add_url_rule(f"{base}/<int:oid>", f"{kind}_update", update, methods=["PUT"])
        app.add_url_rule(f"{base}/<int:oid>", f"{kind}_destroy", destroy, methods=["DELETE"])

    def check_webhook(data):
        if not re.match(r"^https?://", str(data.get("endpoint", ""))):
            raise ApiError(422, "endpoint: must be an http(s) URL")

    def check_trigger(data):
        desk.check_condition(data.get("condition"))
        perform = data.get("perform")
        if not isinstance(perform, Mapping) or not perform:
            raise ApiError(422, "perform: required object")

    crud("webhook", state.webhooks, ("name", "endpoint"), check_webhook)
    crud("trigger", state.triggers, ("name", "condition", "perform"), check_trigger)
    return app


@dataclass
class ServerHandle:
    """A running local Zammad. ``url`` is the base (``http://127.0.0.1:PORT``)."""

    url: str
    netloc: str
    token: str
    state: ZammadState
    knobs: Knobs
    _desk: _Desk = field(repr=False)
    _http: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _delivery: _Delivery = field(repr=False)
    _stats: Counter = field(repr=False)
    _log: deque = field(repr=False)

    name = "zammad"

    def stop(self) -> None:
        self._http.shutdown()
        self._thread.join(timeout=5)
        self._desk.outbox.put(None)
        self._delivery.join(timeout=5)

    def set_knobs(self, **changes: Any) -> None:
        for key, value in changes.items():
            if not hasattr(self.knobs, key):
                raise TypeError(f"{key}: unknown knob")
            setattr(self.knobs, key, value)

    def stats(self) -> dict[str, Any]:
        """``{"total", "by_endpoint": {"PUT /api/v1/tickets/<int:tid>": {"200": 1}}, "by_status",
        "writes", "writes_without_suppress", "rate_limited", "failed", "conflicts"}``."""
        return stats_of(self._stats)

    def count(self, method: str | None = None, path_contains: str = "", status: int | None = None) -> int:
        """Requests seen, filtered by method, a substring of the route rule and status."""
        return sum(n for key, n in list(self._stats.items()) if isinstance(key, tuple)
                   and (method is None or key[1] == method) and path_contains in key[2]
                   and (status is None or key[3] == status))

    def requests(self) -> list[dict]:
        """Every API request seen: method, path, route, write, suppress_notifications, status."""
        return [dict(e) for e in self._log]

    def reset(self) -> None:
        """Back to the seeded demo account, default knobs, zero stats (queued deliveries finish)."""
        try:
            self.wait_deliveries(5)
        except TimeoutError:
            pass
        with self.state.lock:
            self.state.clear()
            self._desk.clock_last.clear()
            self._desk._seed()
            self.knobs.__dict__.update(vars(Knobs()))
        self.reset_stats()

    def reset_stats(self) -> None:
        self._stats.clear()
        self._log.clear()

    def snapshot(self) -> dict[str, Any]:
        return self.state.api_snapshot()

    def delete_ticket(self, ticket_id: int) -> None:
        """Remove a ticket directly (as if an admin deleted it); no webhook."""
        with self.state.lock:
            self.state.tickets.pop(ticket_id, None)
            self.state.tags.pop(ticket_id, None)
            for aid in [a["id"] for a in self._desk.articles_of(ticket_id)]:
                del self.state.articles[aid]

    # -- configuration as an admin would do it ----------------------------------------------
    def deliver_to(self, receiver_url: str, secret: str, *, name: str = "tiergate") -> int:
        """Create (directly) a signed webhook to ``receiver_url`` and the three triggers tiergate
        needs (ticket created, customer article, group changed). Returns the webhook id."""
        with self.state.lock:
            hid = self.state.next_id("webhook")
            at = _ts(self._desk.now())
            self.state.webhooks[hid] = {"id": hid, "name": name, "endpoint": receiver_url,
                                        "signature_token": secret, "ssl_verify": False, "active": True,
                                        "note": "tiergate", "created_at": at, "updated_at": at}
            for trig in default_triggers(hid, name):
                tid = self.state.next_id("trigger")
                self.state.triggers[tid] = {**trig, "id": tid, "created_at": at, "updated_at": at}
        return hid

    def install_webhook(self, receiver_url: str, secret: str | None = None) -> str:
        """Demo helper: ``deliver_to`` with a fresh secret; returns the secret."""
        import secrets as _secrets

        secret = secret or _secrets.token_hex(20)
        self.deliver_to(receiver_url, secret)
        return secret

    def env(self) -> dict[str, str]:
        return {"ZAMMAD_URL": self.url, "ZAMMAD_TOKEN": self.token}

    def settings_overrides(self) -> dict[str, Any]:
        return {}

    def wait_deliveries(self, timeout: float = 10.0) -> list[dict]:
        """Block until every queued delivery was attempted; returns the delivery records."""
        deadline = time.monotonic() + timeout
        with self._delivery.cond:
            while self._delivery.pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self._delivery.pending} webhook deliveries still pending")
                self._delivery.cond.wait(left)
        with self.state.lock:
            return [dict(d) for d in self.state.deliveries]

    # -- seeding -------------------------------------------------------------------------------
    def seed(self, *, customer: Mapping[str, Any] | None = None, organization: Mapping[str, Any] | None = None,
             tickets: list[Mapping[str, Any]] = ()) -> list[int]:
        """Create tickets directly (as Zammad API ``POST /tickets`` bodies); ``customer`` = {name,
        email}. Fires no webhooks. Returns the ticket ids."""
        now = datetime.now(timezone.utc)
        ids = []
        with self.state.lock:
            org_id = self._desk.find_or_create_org(organization, now) if organization else None
            cust = customer or {"name": "Casey Customer", "email": "casey@customer.example"}
            cid = self._desk.find_or_create_customer(cust["name"], cust["email"], org_id, now)
            for data in tickets:
                data = {"customer_id": cid, **data}
                if org_id and "organization_id" not in data:
                    data["organization_id"] = org_id
                ids.append(self._desk.create_ticket(data, BOT_ID, fire=False)["id"])
        return ids

    def import_example(self, obj: Mapping[str, Any], now: datetime) -> int:
        """Create one ticket from the examples format (HACKING.md), keeping comment timestamps;
        fires the create triggers. Returns the ticket id."""
        desk = self._desk
        with self.state.lock:
            org = obj.get("organization")
            org_id = desk.find_or_create_org(org, now) if org else None
            req = obj["requester"]
            cid = desk.find_or_create_customer(req["name"], req["email"], org_id, now)
            created = now - timedelta(minutes=int(obj.get("age_minutes", 0)))
            channel = EXAMPLE_CHANNEL.get(obj.get("channel") or "web", "web")
            priority = obj.get("priority") or "normal"
            pid = next((i for i, n in PRIORITIES.items() if n.split(" ", 1)[1] == priority), 2)
            data = {"title": obj["subject"], "group_id": obj.get("group_id") or DEFAULT_GROUP,
                    "customer_id": cid, "organization_id": org_id,
                    "state_id": EXAMPLE_STATUS.get(obj.get("status") or "new", 1), "priority_id": pid,
                    "owner_id": obj.get("assignee_id") or NOBODY_ID, "type": obj.get("type"),
                    "tags": list(obj.get("tags") or []),
                    "external_id": obj.get("external_id"),
                    "article": {"body": obj["description"], "type": channel, "sender": "Customer",
                                "internal": False, "created_by_id": cid, "subject": obj["subject"]}}
            stamp = max(now, desk.now())
            t = desk.create_ticket(data, BOT_ID, at=stamp, created_at=created, fire=False)
            for comment in obj.get("comments") or []:
                customer = comment.get("author") == "customer"
                author = cid if customer else (obj.get("assignee_id") or 201)
                public = comment.get("public", True)
                at = now - timedelta(minutes=int(comment.get("minutes_ago", 0)))
                desk._add_article(t, {
                    "body": comment["body"], "created_by_id": author,
                    "sender": "Customer" if customer else "Agent", "internal": not public,
                    "type": EXAMPLE_CHANNEL.get(comment.get("channel") or channel, "web") if public else "note",
                }, author, at=at, fire=False)
            desk.clock_last[t["id"]] = stamp
            t["updated_at"] = _ts(stamp)
            first = desk.articles_of(t["id"])[0]
            desk.fire(t, {"action": "create", "article": first, "changed": set()})
            return t["id"]


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


class _CountingQueue(queue.Queue):
    """Outbox that tells the delivery thread how many jobs are pending (for ``wait_deliveries``)."""

    def __init__(self, delivery_ref: list):
        super().__init__()
        self._ref = delivery_ref

    def put(self, item, block=True, timeout=None):
        if item is not None and self._ref:
            with self._ref[0].cond:
                self._ref[0].pending += 1
        super().put(item, block, timeout)


def start_server(port: int = 0, *, token: str = DEFAULT_TOKEN, host: str = "127.0.0.1",
                 **knobs: Any) -> ServerHandle:
    """Start the local Zammad on ``port`` (0 = a free one) in a daemon thread."""
    state = ZammadState()
    desk = _Desk(state, token)
    ref: list = []
    desk.outbox = _CountingQueue(ref)
    delivery = _Delivery(desk)
    ref.append(delivery)
    delivery.start()
    k = Knobs(**knobs)
    stats: Counter = Counter()
    log: deque = deque(maxlen=10000)
    http = make_server(host, port, _app(desk, k, stats, log, deque()), threaded=True,
                       request_handler=_QuietHandler)
    thread = threading.Thread(target=http.serve_forever, daemon=True, name="zammad-local")
    thread.start()
    netloc = f"{host}:{http.server_port}"
    return ServerHandle(url=f"http://{netloc}", netloc=netloc, token=token, state=state, knobs=k,
                        _desk=desk, _http=http, _thread=thread, _delivery=delivery, _stats=stats, _log=log)
