"""The local Zammad's domain logic over ``ZammadState`` (no HTTP): seeding, users and
organizations, tickets, articles, tags, history, and firing triggers into the outbox."""
from __future__ import annotations

import json
import queue
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from tiergate.localdesk.zammad.account import (AGENTS, ARTICLE_TYPE_IDS, BOT_ID, DEFAULT_GROUP, GROUPS, HISTORY_ATTRS,
                                               NOBODY_ID, PRIORITIES, ROLE_ADMIN, ROLE_AGENT, ROLE_CUSTOMER,
                                               SENDER_IDS, STATES, TICKET_COLUMNS, ApiError, ts)
from tiergate.localdesk.zammad.store import ZammadState

# TriggerWebhookJob::RecordPayload::Base::USER_ATTRIBUTE_BLACKLIST
USER_PAYLOAD_HIDDEN = frozenset({"last_login", "login_failed", "password", "preferences", "group_ids",
                                 "groups", "authorization_ids", "authorizations"})
from tiergate.localdesk.zammad.triggers import holds


class Desk:
    """Domain logic over ``ZammadState`` (no HTTP); the Flask views and the handle call it."""

    def __init__(self, state: ZammadState, token: str):
        self.state = state
        self.token = token
        self.outbox: "queue.Queue[dict | None]" = queue.Queue()
        self.clock_last: dict[int, datetime] = {}
        self.seed()

    # -- seed --------------------------------------------------------------------------------
    def seed(self) -> None:
        s = self.state
        created = ts(datetime(2024, 1, 1, tzinfo=timezone.utc))
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
        # the demo account's one custom ticket attribute: the examples' external id
        self.add_object_attribute({"object": "Ticket", "name": "external_id", "display": "External id",
                                   "data_type": "input", "data_option": {"type": "text", "maxlength": 120}},
                                  created, migrated=True)

    def add_object_attribute(self, data: Mapping[str, Any], at: str, *, migrated: bool = False) -> dict:
        """An ObjectManager::Attribute of a ticket; usable once migrated (``to_create`` false)."""
        aid = self.state.next_id("object_attribute")
        attr = {"id": aid, "object": data["object"], "name": data["name"], "display": data.get("display"),
                "data_type": data["data_type"], "data_option": dict(data.get("data_option") or {}),
                "data_option_new": {}, "editable": True, "active": data.get("active", True),
                "screens": dict(data.get("screens") or {}), "to_create": not migrated, "to_migrate": False,
                "to_delete": False, "to_config": False, "position": data.get("position", 1500),
                "created_by_id": BOT_ID, "updated_by_id": BOT_ID, "created_at": at, "updated_at": at}
        self.state.object_attributes[aid] = attr
        return attr

    def ticket_keys(self) -> set[str]:
        """The keys a ticket write may set: its columns and the migrated, active custom attributes."""
        return set(TICKET_COLUMNS) | {a["name"] for a in self.state.object_attributes.values()
                                      if a["object"] == "Ticket" and a["active"] and not a["to_create"]}

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
        """One history entry in the shape Zammad's ``History.list`` renders it: ``type`` /
        ``object`` / ``attribute``; ``id_*``, ``value_*`` and ``related_*`` only when set."""
        entry: dict[str, Any] = {"id": self.state.next_id("history"),
                                 "o_id": o_id if o_id is not None else ticket_id,
                                 "type": htype, "object": obj}
        if attr is not None:
            entry["attribute"] = attr
        if obj != "Ticket":
            entry["related_o_id"], entry["related_object"] = ticket_id, "Ticket"
        if id_from is not None or id_to is not None:
            entry["id_from"], entry["id_to"] = id_from, id_to
        if value_from is not None or value_to is not None:
            entry["value_from"], entry["value_to"] = value_from, value_to
        entry["created_at"], entry["created_by_id"] = ts(at), by
        self.state.history.append(entry)

    def fullname(self, user_id: int | None) -> str:
        """A user's name as Zammad writes it into history values (``firstname lastname``)."""
        u = self.state.users.get(user_id or NOBODY_ID, {})
        return f"{u.get('firstname') or ''} {u.get('lastname') or ''}".strip() or str(u.get("login") or "")

    def _touch(self, t: dict, at: datetime, by: int) -> None:
        t["updated_at"] = ts(at)
        t["updated_by_id"] = by

    # -- users / orgs ------------------------------------------------------------------------
    def find_or_create_customer(self, name: str, email: str, org_id: int | None, at: datetime) -> int:
        for u in self.state.users.values():
            if u["email"] and u["email"].lower() == email.lower():
                return u["id"]
        first, _, last = name.partition(" ")
        uid = self.state.next_id("user", 1000)
        self.state.users[uid] = self._user(uid, first, last, email, [ROLE_CUSTOMER], ts(at),
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
            "renewal_at": ts(at + timedelta(days=renewal)) if renewal is not None else None,
            "created_at": ts(at), "updated_at": ts(at)}
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
             "created_at": ts(created), "updated_at": ts(at)}
        custom = self.ticket_keys() - set(t)
        for key, value in data.items():
            if key in custom:
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
        t["updated_at"] = ts(at)
        if fire:
            self.fire(t, {"action": "create", "article": first, "changed": set()})
        return t

    def update_ticket(self, tid: int, data: Mapping[str, Any], by: int) -> dict:
        s = self.state
        t = self.ticket(tid)
        changes = {}
        writable = self.ticket_keys()
        for key, value in self.names_to_ids(data).items():
            if key in ("id", "article", "updated_at", "created_at", "number"):
                continue
            if key not in writable:
                continue        # Zammad's param_cleanup drops what is no column or object attribute
            if key in ("group_id",) and value not in s.groups:
                raise ApiError(422, f"group_id: no group {value!r}")
            if key == "owner_id" and value is not None and value not in s.users:
                raise ApiError(422, f"owner_id: no user {value!r}")
            if key == "priority_id" and value not in PRIORITIES:
                raise ApiError(422, f"priority_id: unknown {value!r}")
            if key == "state_id" and value not in STATES:
                raise ApiError(422, f"state_id: unknown {value!r}")
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
                name = self.fullname if names is None else names.get
                # HasHistory#history_update: the related record's name as a string ("" when none)
                self._history(tid, at, by, "updated", attr=attr, value_from=str(name(old) or ""),
                              value_to=str(name(new) or ""), id_from=old, id_to=new)
        self._touch(t, at, by)
        new_article = None
        if isinstance(article, Mapping):
            new_article = self._add_article(t, article, by, at=at, fire=False)
        self.fire(t, {"action": "update", "article": new_article, "changed": set(changes)})
        return t

    def names_to_ids(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Zammad's ``association_name_to_id_convert``: ``state`` / ``priority`` / ``group`` by name
        and ``owner`` / ``customer`` by login or email become their ``*_id`` unless that is given."""
        s = self.state
        tables = {"state": STATES, "priority": PRIORITIES,
                  "group": {g: x["name"] for g, x in s.groups.items()}}
        out = dict(data)
        for name in ("state", "priority", "group", "owner", "customer"):
            value = out.get(name)
            if value is None or f"{name}_id" in out:
                out.pop(name, None)
                continue
            if name in tables:
                found = next((i for i, n in tables[name].items() if n == value), None)
            else:
                found = next((u["id"] for u in s.users.values() if str(value).lower()
                              in (str(u.get("login") or "").lower(), str(u.get("email") or "").lower())), None)
            if found is None:
                raise ApiError(422, f"No lookup value found for '{name}': {value!r}")
            del out[name]
            out[f"{name}_id"] = found
        return out

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
               "updated_by_id": by, "created_at": ts(at), "updated_at": ts(at)}
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


    def fire(self, t: dict, event: dict) -> None:
        for trig in sorted(self.state.triggers.values(), key=lambda x: x["name"]):
            if not trig.get("active", True):
                continue
            perform = trig.get("perform", {}).get("notification.webhook")
            if not perform or not holds(trig["condition"], t, event):
                continue
            if trig.get("execution_condition_mode") == "selective" and event["action"] == "update" and not any(
                    k.split(".", 1)[1] in event["changed"] for k in trig["condition"] if k.startswith("ticket.")
                    and k != "ticket.action"):
                continue        # selective: only when the update changed an attribute the condition names
            hook = self.state.webhooks.get(int(perform.get("webhook_id", 0)))
            if hook is None or not hook.get("active", True):
                continue
            self.outbox.put({"webhook": dict(hook), "trigger": trig["name"], "ticket_id": t["id"],
                             "payload": self.payload(t, event.get("article"), hook)})

    def payload(self, t: dict, article: dict | None, hook: Mapping[str, Any]) -> bytes:
        """The webhook body, as Zammad's ``TriggerWebhookJob::RecordPayload`` builds it: the
        ticket with names and its owner, customer, creator, updater, organization, priority and
        group as objects; the article with its creator and updater as objects (``{}`` if none)."""
        if hook.get("customized_payload") and hook.get("custom_payload"):
            text = str(hook["custom_payload"]).replace("#{ticket.id}", str(t["id"]))
            return text.encode("utf-8")
        s = self.state
        ticket = self.expand(t)
        for key in ("owner", "customer", "created_by", "updated_by"):
            ticket[key] = self._user_payload(t.get(f"{key}_id"))
        ticket["organization"] = dict(s.organizations.get(t.get("organization_id") or 0, {}))
        pid = t.get("priority_id")
        ticket["priority"] = {"id": pid, "name": PRIORITIES[pid], "active": True} if pid in PRIORITIES else {}
        ticket["group"] = dict(s.groups.get(t.get("group_id"), {}))
        art: dict[str, Any] = {}
        if article:
            art = {**article, "created_by": self._user_payload(article.get("created_by_id")),
                   "updated_by": self._user_payload(article.get("updated_by_id")), "accounted_time": 0}
        return json.dumps({"ticket": dict(sorted(ticket.items())), "article": dict(sorted(art.items()))}
                          ).encode("utf-8")

    def _user_payload(self, user_id: int | None) -> dict:
        """A user as the webhook payload carries it (without password, preferences, group ids)."""
        u = self.state.users.get(user_id) if user_id else None
        return {k: v for k, v in u.items() if k not in USER_PAYLOAD_HIDDEN} if u else {}
