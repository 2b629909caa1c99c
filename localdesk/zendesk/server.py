"""The running local Zendesk: ``start_server`` and its ``ServerHandle`` (connection details,
knobs, stats, direct seeding, example import, deliveries)."""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta
from typing import Any, Iterable

from tiergate.localdesk.common import quiet_server, start_thread
from tiergate.localdesk.zendesk.account import DEFAULT_AGENTS, DEFAULT_EMAIL, DEFAULT_SUBDOMAIN, DEFAULT_TOKEN
from tiergate.localdesk.zendesk.api import StripJson
from tiergate.localdesk.zendesk.app import create_app, stats_of
from tiergate.localdesk.zendesk.delivery import Sender
from tiergate.localdesk.zendesk.records import iso
from tiergate.localdesk.zendesk.store import State


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
                         "created_at": iso(created), "channel": channel}]
            for c in obj.get("comments") or []:
                comments.append({"author_id": user["id"] if c.get("author", "customer") == "customer" else agent,
                                 "value": c["body"], "public": c.get("public", True) and c.get("author") != "internal",
                                 "created_at": iso(now - timedelta(minutes=c.get("minutes_ago", 0))),
                                 "channel": c.get("channel") or channel})
            ticket = state.import_ticket({
                "external_id": obj.get("external_id"), "subject": obj["subject"], "priority": obj.get("priority"),
                "status": obj.get("status") or "new", "type": obj.get("type"), "tags": obj.get("tags") or [],
                "group_id": obj.get("group_id"), "assignee_id": obj.get("assignee_id"), "requester_id": user["id"],
                "organization_id": org_id, "via": {"channel": channel}, "created_at": iso(created),
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
    server = quiet_server("127.0.0.1", port, StripJson(create_app(state)))
    state.base_url = f"http://127.0.0.1:{server.server_port}"
    sender = Sender(state, threads=sender_threads)
    state.outbox = sender.put
    if knobs:
        state.set_knobs(**knobs)
    thread = start_thread(server, "zendesk-local")
    return ServerHandle(state, server, thread, sender)
