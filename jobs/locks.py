"""Per-ticket serialization: two jobs for one ticket never decide and write at the same time."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from redis import Redis
from redis.exceptions import LockError

LOCK_TIMEOUT = 60.0     # seconds; a killed worker's lock expires by itself
WAIT_TIMEOUT = 30.0


class TicketBusy(Exception):
    """Another job holds the ticket's lock for longer than we are willing to wait."""


@contextmanager
def ticket_lock(conn: Redis, helpdesk: str, ticket_id: int, *, wait: float = WAIT_TIMEOUT) -> Iterator[None]:
    lock = conn.lock(f"tg:lock:{helpdesk}:{ticket_id}", timeout=LOCK_TIMEOUT,
                     blocking_timeout=wait, thread_local=False)
    if not lock.acquire():
        raise TicketBusy(f"ticket {ticket_id} is locked by another job")
    try:
        yield
    finally:
        try:
            lock.release()
        except LockError:  # expired while we worked; nothing to release
            pass
