"""The running local Zammad: ``start_server`` and its ``ServerHandle`` (knobs, stats, request log,
reset, snapshots, webhook setup as an admin would do it, seeding, example import)."""
from __future__ import annotations

import secrets
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from tiergate.connectors.zammad_triggers import default_triggers
from tiergate.localdesk.common import quiet_server, start_thread
from tiergate.localdesk.zammad.account import (BOT_ID, DEFAULT_GROUP, DEFAULT_TOKEN, EXAMPLE_CHANNEL, EXAMPLE_STATUS,
                                               NOBODY_ID, PRIORITIES, ts)
from tiergate.localdesk.zammad.app import create_app, stats_of
from tiergate.localdesk.zammad.delivery import CountingQueue, Delivery
from tiergate.localdesk.zammad.desk import Desk
from tiergate.localdesk.zammad.store import Knobs, ZammadState


@dataclass
class ServerHandle:
    """A running local Zammad. ``url`` is the base (``http://127.0.0.1:PORT``)."""

    url: str
    netloc: str
    token: str
    state: ZammadState
    knobs: Knobs
    _desk: Desk = field(repr=False)
    _http: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _delivery: Delivery = field(repr=False)
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
            self._desk.seed()
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
            at = ts(self._desk.now())
            self.state.webhooks[hid] = {"id": hid, "name": name, "endpoint": receiver_url,
                                        "signature_token": secret, "ssl_verify": False, "active": True,
                                        "note": "tiergate", "created_at": at, "updated_at": at}
            for trig in default_triggers(hid, name):
                tid = self.state.next_id("trigger")
                self.state.triggers[tid] = {**trig, "id": tid, "created_at": at, "updated_at": at}
        return hid

    def install_webhook(self, receiver_url: str, secret: str | None = None) -> str:
        """Demo helper: ``deliver_to`` with a fresh secret; returns the secret."""
        secret = secret or secrets.token_hex(20)
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
                customer = comment.get("author", "customer") == "customer"
                author = cid if customer else (obj.get("assignee_id") or 201)
                public = comment.get("public", True) and comment.get("author") != "internal"
                at = now - timedelta(minutes=int(comment.get("minutes_ago", 0)))
                desk._add_article(t, {
                    "body": comment["body"], "created_by_id": author,
                    "sender": "Customer" if customer else "Agent", "internal": not public,
                    "type": EXAMPLE_CHANNEL.get(comment.get("channel") or channel, "web") if public else "note",
                }, author, at=at, fire=False)
            desk.clock_last[t["id"]] = stamp
            t["updated_at"] = ts(stamp)
            first = desk.articles_of(t["id"])[0]
            desk.fire(t, {"action": "create", "article": first, "changed": set()})
            return t["id"]



def start_server(port: int = 0, *, token: str = DEFAULT_TOKEN, host: str = "127.0.0.1",
                 **knobs: Any) -> ServerHandle:
    """Start the local Zammad on ``port`` (0 = a free one) in a daemon thread."""
    state = ZammadState()
    desk = Desk(state, token)
    ref: list = []
    desk.outbox = CountingQueue(ref)
    delivery = Delivery(desk)
    ref.append(delivery)
    delivery.start()
    k = Knobs(**knobs)
    stats: Counter = Counter()
    log: deque = deque(maxlen=10000)
    http = quiet_server(host, port, create_app(desk, k, stats, log, deque()))
    thread = start_thread(http, "zammad-local")
    netloc = f"{host}:{http.server_port}"
    return ServerHandle(url=f"http://{netloc}", netloc=netloc, token=token, state=state, knobs=k,
                        _desk=desk, _http=http, _thread=thread, _delivery=delivery, _stats=stats, _log=log)
