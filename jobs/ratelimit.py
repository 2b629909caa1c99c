"""One API rate budget per helpdesk account, shared by every worker through Redis.

A token bucket in a Lua script (atomic across processes): capacity = the plan's requests per
minute, refilled continuously. Connectors charge it per HTTP request through ``BudgetedAdapter``
(a ``requests`` transport adapter), so no vendor call is ever sent over budget. When the bucket
is empty the call raises ``RateLimited(retry_after)`` and the job is rescheduled, never slept.
"""
from __future__ import annotations

import time

import requests
from redis import Redis
from requests.adapters import HTTPAdapter

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

    def __init__(self, conn: Redis, account: str, per_minute: int):
        if per_minute <= 0:
            raise ValueError("per_minute: must be a positive number of requests")
        self.conn = conn
        self.key = f"tg:budget:{account}"
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._script = conn.register_script(_TAKE)

    @classmethod
    def for_plan(cls, conn: Redis, account: str, plan: str) -> "RateBudget":
        try:
            return cls(conn, account, PLANS[plan])
        except KeyError:
            raise ValueError(f"plan: unknown {plan!r}; known: {sorted(PLANS)}") from None

    def take(self, cost: float = 1.0, now: float | None = None) -> float:
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
