"""The local Zammad's in-memory desk (``ZammadState``) and its runtime knobs."""
from __future__ import annotations

import copy
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any


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
    object_attributes: dict[int, dict] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _ids: dict[str, itertools.count] = field(default_factory=dict, repr=False)

    def next_id(self, kind: str, start: int = 1) -> int:
        counter = self._ids.setdefault(kind, itertools.count(start))
        return next(counter)

    def clear(self) -> None:
        with self.lock:
            for name in ("groups", "users", "organizations", "tickets", "articles", "tags", "webhooks",
                         "triggers", "object_attributes"):
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
                "history": self.history, "webhooks": self.webhooks, "triggers": self.triggers,
                "object_attributes": self.object_attributes})


@dataclass
class Knobs:
    rate_limit_per_minute: int | None = None
    latency_ms: float = 0.0
    fail_next: int = 0
    fail_status: int = 503
    conflict_next: int = 0
