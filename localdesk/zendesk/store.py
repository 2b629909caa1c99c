"""The local Zendesk's in-memory account: one ``State`` guarded by one lock, composed of the
per-resource stores (directory, tickets, comments, triggers, webhooks): mixins whose methods work
on the attributes ``State`` sets up here."""
from __future__ import annotations

import itertools
import random
import threading
from collections import Counter, deque
from datetime import datetime, timedelta
from typing import Any, Callable

from tiergate.localdesk.zendesk.account import (BOT_ID, DEFAULT_AGENTS, DEFAULT_EMAIL, DEFAULT_GROUPS, DEFAULT_KNOBS,
                                                DEFAULT_SUBDOMAIN, DEFAULT_TOKEN)
from tiergate.localdesk.zendesk.comments import ThreadStore
from tiergate.localdesk.zendesk.directory import DirectoryStore
from tiergate.localdesk.zendesk.errors import ApiError
from tiergate.localdesk.zendesk.records import utcnow, whole_seconds
from tiergate.localdesk.zendesk.tickets import TicketStore
from tiergate.localdesk.zendesk.triggers import TriggerStore
from tiergate.localdesk.zendesk.webhooks import WebhookStore
from tiergate.plugin.core.model import parse_time


class State(DirectoryStore, TicketStore, ThreadStore, TriggerStore, WebhookStore):
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

    def next_stamp(self, at: datetime | None = None, *, after: str | None = None) -> datetime:
        """A write instant in whole seconds (``at``, default now), later than ``after`` (the
        ticket's current ``updated_at``): a ticket's second write within the same second gets
        the next second as its ``updated_at``, so each write has its own stamp and
        ``safe_update`` tells any two writes apart (comments and audits keep the wall time)."""
        at = whole_seconds(at or utcnow())
        previous = parse_time(after) if after else None
        if previous is not None and at <= previous:
            at = previous + timedelta(seconds=1)
        return at

    def _oid(self) -> int:
        return next(self._object_ids)

    def _url(self, path: str) -> str:
        return f"{self.base_url}/api/v2/{path}.json"
