"""Queue names, the JSON serializer, and the one way deliveries become RQ jobs."""
from __future__ import annotations

import hashlib
import re

from redis import Redis
from rq import Queue, Retry
from rq.serializers import JSONSerializer

from tiergate.connectors.base import Delivery
from tiergate.runtime import keys
from tiergate.runtime.config import Settings

JOB_TIMEOUT = 120
RESULT_TTL = 24 * 3600
# RQ re-runs a job whose worker died mid-way (StartedJobRegistry clean-up) only while it has
# retries left. A job that raises is failed at once instead (``jobs.failed.final_on_error``):
# process.py has its own policy for transient errors, and a missing ticket must fail clearly.
ABANDON_RETRIES = 3


def abandon_retry() -> Retry:
    return Retry(max=ABANDON_RETRIES)


def queue(conn: Redis, settings: Settings) -> Queue:
    return Queue(settings.queue_name, connection=conn, serializer=JSONSerializer)


def safe_job_id(*parts: object) -> str:
    """RQ 3 job ids allow only letters, digits, ``_`` and ``-``; long or odd parts are hashed."""
    raw = "-".join(str(p) for p in parts)
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", raw)
    if clean != raw or len(clean) > 120:
        clean = f"{clean[:80]}-{hashlib.sha256(raw.encode()).hexdigest()[:20]}"
    return clean


def job_id_for(delivery: Delivery) -> str:
    """One job per delivery: a retried enqueue of the same delivery reuses the id."""
    return safe_job_id("tg", delivery.helpdesk, delivery.ticket_id, delivery.delivery_id)



def claim_waiting(conn: Redis, helpdesk: str, ticket_id: int, job_id: str | None) -> None:
    """Called by a starting job before it fetches: later deliveries need a job of their own."""
    key = keys.waiting(helpdesk, ticket_id)
    if job_id is not None and conn.get(key) == job_id.encode():
        conn.delete(key)
