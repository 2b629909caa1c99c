"""One API rate budget per helpdesk account, shared by every worker through Redis.

A token bucket in a Lua script (atomic across processes): capacity = the plan's requests per
minute, refilled continuously. Connectors charge it per HTTP request through ``BudgetedAdapter``
(a ``requests`` transport adapter), so no vendor call is ever sent over budget. When the bucket
is empty the call raises ``RateLimited(retry_after)`` and the job is rescheduled, never slept.
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable

import requests
from redis import Redis
from requests.adapters import HTTPAdapter

from tiergate.runtime import keys
from tiergate.plugin.core.errors import RateLimited

PLANS = {"team": 200, "growth": 400, "professional": 400, "enterprise": 700,
         "enterprise_plus": 2500, "high_volume": 2500}

_TAKE = """
local key = KEYS[1]
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', key, 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil then tokens = capacity; at = now end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', key, 3600)
return tostring(wait)
"""


class RateBudget:
    """``take()`` returns 0.0 when a request may go now, else the seconds until it may."""

    RESIZE_EVERY = 10.0   # seconds between ``sizer`` calls (the manifest may change at run time)

    def __init__(self, conn: Redis, account: str, per_minute: int,
                 sizer: Callable[[], int] | None = None):
        if per_minute <= 0:
            raise ValueError("per_minute: must be a positive number of requests")
        self.conn = conn
        self.account = account
        self.key = keys.budget(account)
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._sizer = sizer
        self._sized_at = time.monotonic()
        self._script = conn.register_script(_TAKE)

    def _resize(self) -> None:
        if self._sizer is None or time.monotonic() - self._sized_at < self.RESIZE_EVERY:
            return
        self._sized_at = time.monotonic()
        try:
            per_minute = int(self._sizer())
        except Exception:  # noqa: BLE001 - keep the last good size
            return
        if per_minute > 0:
            self.capacity, self.rate = float(per_minute), per_minute / 60.0

    @classmethod
    def for_plan(cls, conn: Redis, account: str, plan: str) -> "RateBudget":
        try:
            return cls(conn, account, PLANS[plan])
        except KeyError:
            raise ValueError(f"plan: unknown {plan!r}; known: {sorted(PLANS)}") from None

    def take(self, cost: float = 1.0, now: float | None = None) -> float:
        self._resize()
        now = time.time() if now is None else now
        return float(self._script(keys=[self.key], args=[self.capacity, self.rate, now, cost]))

    def acquire(self, *, max_wait: float = 0.5) -> None:
        """Take one token; wait briefly for short gaps, else raise ``RateLimited``."""
        wait = self.take()
        if wait == 0.0:
            return
        if wait <= max_wait:
            time.sleep(wait)
            if self.take() == 0.0:
                return
        raise RateLimited(max(wait, 0.001), "account rate budget exhausted")


class BudgetedAdapter(HTTPAdapter):
    """A transport adapter that charges the shared budget before every request it sends."""

    def __init__(self, budget: RateBudget, **kwargs):
        super().__init__(**kwargs)
        self.budget = budget

    def send(self, request, *args, **kwargs):
        self.budget.acquire()
        return super().send(request, *args, **kwargs)


def budgeted_session(budget: RateBudget, session: requests.Session | None = None) -> requests.Session:
    session = session or requests.Session()
    adapter = BudgetedAdapter(budget)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def account_name(settings: Any) -> str:
    """One budget per helpdesk account: the desk kind plus where it lives."""
    where = (getattr(settings, "zendesk_subdomain", None) if settings.helpdesk == "zendesk"
             else getattr(settings, "zammad_url", None)) or "default"
    netloc = getattr(settings, "zendesk_netloc", None) if settings.helpdesk == "zendesk" else None
    return f"{settings.helpdesk}:{where}" + (f"@{netloc}" if netloc else "")


def manifest_budget(conn: Redis, settings: Any, manifests: Any) -> RateBudget:
    """The account's shared budget sized from the manifest in force
    (``manifest.helpdesk.rate_limit_per_minute``, itself defaulting to the plan's figure)."""
    def per_minute() -> int:
        return int(manifests.current().helpdesk.rate_limit_per_minute)

    return RateBudget(conn, account_name(settings), per_minute(), sizer=per_minute)


def budget_wanted(settings: Any, environ: Any = None) -> bool:
    """``TIERGATE_RATE_BUDGET=on|off`` decides; by default every real account is budgeted and a
    desk on loopback (the local compatible servers of the demo and tests, whose own knobs model
    the vendor's limit) is not, so test helpers polling it do not spend the workers' budget."""
    flag = (environ if environ is not None else os.environ).get("TIERGATE_RATE_BUDGET", "").strip().lower()
    if flag in ("on", "1", "true", "yes"):
        return True
    if flag in ("off", "0", "false", "no"):
        return False
    where = (getattr(settings, "zendesk_netloc", None) if settings.helpdesk == "zendesk"
             else getattr(settings, "zammad_url", None)) or ""
    return not any(h in where for h in ("127.0.0.1", "localhost", "[::1]"))


def attach_budget(connector: Any, budget: RateBudget) -> bool:
    """Charge ``budget`` for every HTTP request ``connector`` sends, by mounting the budgeted
    adapter on the ``requests.Session`` the connector exposes as ``.session`` (the Zendesk
    connector hands that session to zenpy; the Zammad one sends through it). False when the
    connector has no session to charge."""
    session = getattr(connector, "session", None)
    if not isinstance(session, requests.Session):
        return False
    budgeted_session(budget, session)
    connector.budget = budget
    return True
