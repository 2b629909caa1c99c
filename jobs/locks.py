"""Per-ticket serialization: two jobs for one ticket never decide and write at the same time.

A Redis lock per ticket (``SET NX PX``; compare-and-delete release in Lua). The lock's value
names its owner, the RQ job id, so a job that RQ re-runs after its worker was killed mid-way
(same job id, see ``jobs.worker.ReliableWorker``) takes over the lock its dead first run left
behind instead of waiting for it to expire. RQ only re-runs a job once its execution stopped
heart-beating, so the previous holder is known dead. Any other holder's lock is waited for
(``wait`` seconds), then ``TicketBusy`` (the job is rescheduled, no worker sleeps longer).
"""
from __future__ import annotations

import secrets
import time
from contextlib import contextmanager
from typing import Iterator

from redis import Redis
from rq import get_current_job

from tiergate.runtime import keys

LOCK_TIMEOUT = 60.0     # seconds; a killed worker's lock expires by itself
WAIT_TIMEOUT = 30.0
POLL = 0.05

_ACQUIRE = """
local cur = redis.call('GET', KEYS[1])
if (not cur) or (ARGV[3] ~= '' and string.sub(cur, 1, string.len(ARGV[3]) + 1) == ARGV[3] .. '|') then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  if cur then return 2 end
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class TicketBusy(Exception):
    """Another job holds the ticket's lock for longer than we are willing to wait."""



def current_owner() -> str:
    """The running RQ job's id ('' outside a job)."""
    try:
        job = get_current_job()
    except Exception:  # noqa: BLE001 - no RQ context
        job = None
    return job.id if job is not None else ""


@contextmanager
def ticket_lock(conn: Redis, helpdesk: str, ticket_id: int, *, wait: float = WAIT_TIMEOUT,
                owner: str | None = None, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    owner = current_owner() if owner is None else owner
    value = f"{owner}|{secrets.token_hex(8)}"
    key = keys.lock(helpdesk, ticket_id)
    acquire, release = conn.register_script(_ACQUIRE), conn.register_script(_RELEASE)
    deadline = time.monotonic() + wait
    while True:
        got = int(acquire(keys=[key], args=[value, int(timeout * 1000), owner]))
        if got:
            break
        if time.monotonic() >= deadline:
            raise TicketBusy(f"ticket {ticket_id} is locked by another job")
        time.sleep(POLL)
    try:
        yield
    finally:
        try:
            release(keys=[key], args=[value])
        except Exception:  # noqa: BLE001 - Redis gone: the lock expires by itself
            pass
