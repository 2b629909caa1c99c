"""Dedupe and enqueue a verified delivery in ONE atomic Redis step (one round trip).

The receiver used to claim a dedupe key as "pending", enqueue, then mark the key done: a Redis
loss between the claim and the enqueue stranded the key and refused the helpdesk's retries. Here
one Lua script checks the dedupe keys, joins a job still waiting for the same ticket (coalescing,
as ``enqueue_delivery``), or stores the job exactly as RQ's ``Queue.enqueue_job`` would
(its commands are recorded on an unexecuted pipeline and replayed inside the script), marks the
dedupe keys and counts the delivery. Redis runs a script whole or not at all, so after any
failure (a crash, a lost connection) either everything is stored (a retry is a duplicate) or
nothing is (a retry is accepted); a command failing inside the script (a key of the wrong type)
stops it before the dedupe keys are set, so the retry is accepted too.

Dedupe keys: the delivery id the desk sends, and a digest of the signature headers, which are an
HMAC of the signed content: a captured delivery replayed under a new (unsigned) id is a duplicate.

An outcome delivery (event type ``outcome:<kind>``: solved, reopened, rated) is stored the same way
as the job ``jobs.ticket_outcome.record_outcome``, joining only a waiting outcome job of the same
ticket (its own waiting key), never a decision job.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from redis import Redis
from rq import Queue
from rq.job import Job

from tiergate.connectors.base import Delivery
from tiergate.connectors.outcome_events import outcome_kind
from tiergate.jobs import queues as Q
from tiergate.runtime import keys
from tiergate.jobs.process import process_delivery
from tiergate.jobs.ticket_outcome import record_outcome
from tiergate.runtime.config import Settings

QUEUED, COALESCED, DUPLICATE = 1, 2, 0
IN_FLIGHT = 3    # a key left "pending" by a receiver of an earlier version, still storing


class NotReplicated(Exception):
    """The delivery is stored on the master but fewer replicas than asked acknowledged it within
    the timeout: a fail-over now could lose it, so it must not be acknowledged (the helpdesk's
    retry is answered as a duplicate once the replica has caught up, or accepted anew after a
    fail-over that lost it)."""

    def __init__(self, status: int, job_id: str, acknowledged: int, wanted: int):
        super().__init__(f"{acknowledged} of {wanted} replicas acknowledged")
        self.status, self.job_id, self.acknowledged, self.wanted = status, job_id, acknowledged, wanted

_SCRIPT = """
local nd = tonumber(ARGV[1])
if ARGV[6] ~= '' then redis.call('HINCRBYFLOAT', ARGV[6], ARGV[7], 1) end
for i = 1, nd do
  local seen = redis.call('GET', KEYS[i])
  if seen == 'pending' then return {3, seen} end
  if seen then return {0, seen} end
end
local wkey = KEYS[nd + 1]
local jid = ARGV[3]
local status = 1
local waiting = redis.call('GET', wkey)
if waiting and redis.call('EXISTS', ARGV[5] .. waiting) == 1 then
  status = 2
  jid = waiting
else
  local i = 8
  while i <= #ARGV do
    local n = tonumber(ARGV[i])
    redis.call(unpack(ARGV, i + 1, i + n))
    i = i + n + 1
  end
  redis.call('SET', wkey, jid, 'EX', ARGV[4])
end
for i = 1, nd do redis.call('SET', KEYS[i], jid, 'EX', ARGV[2]) end
return {status, jid}
"""


def job_of(delivery: Delivery) -> tuple[Callable[..., Any], str, str]:
    """(job function, waiting key, job description) for a delivery: a decision, or an outcome."""
    if outcome_kind(delivery.event_type):
        return (record_outcome, keys.waiting_outcome(delivery.helpdesk, delivery.ticket_id),
                f"outcome {delivery.helpdesk} ticket {delivery.ticket_id}")
    return (process_delivery, keys.waiting(delivery.helpdesk, delivery.ticket_id),
            f"process {delivery.helpdesk} ticket {delivery.ticket_id}")


def enqueue_delivery(conn: Redis, delivery: Delivery, settings: Settings) -> str:
    """Enqueue ``process_delivery(delivery_dict)``; returns the job id.

    Coalescing: while a job for the same ticket is still waiting in the queue, a new delivery
    joins it instead of adding another job. That job re-fetches the ticket after it starts
    (``claim_waiting`` runs before the fetch), so it sees everything the joined delivery announced.
    """
    func, key, description = job_of(delivery)
    job_id = Q.job_id_for(delivery)
    if not conn.set(key, job_id, nx=True, ex=Q.JOB_TIMEOUT * 5):
        waiting = conn.get(key)
        if waiting and conn.exists(f"rq:job:{waiting.decode()}"):
            return waiting.decode()
        conn.set(key, job_id, ex=Q.JOB_TIMEOUT * 5)        # a stale marker: take it over
    try:
        job = Q.queue(conn, settings).enqueue(
            func, delivery.to_dict(), job_id=job_id,
            job_timeout=Q.JOB_TIMEOUT, result_ttl=Q.RESULT_TTL, failure_ttl=7 * 24 * 3600,
            description=description, retry=Q.abandon_retry(),
        )
    except Exception:
        conn.delete(key)
        raise
    return job.id


class Intake:
    """Per-process: the queue object and the registered script are built once."""

    def __init__(self, conn: Redis, settings: Settings):
        self.conn = conn
        self.settings = settings
        self.queue: Queue = Q.queue(conn, settings)   # caches the server version after one call
        self.script = conn.register_script(_SCRIPT)

    def _commands(self, delivery: Delivery, job_id: str) -> list:
        func, _, description = job_of(delivery)
        job = self.queue.create_job(
            func, args=[delivery.to_dict()], job_id=job_id, timeout=Q.JOB_TIMEOUT,
            result_ttl=Q.RESULT_TTL, failure_ttl=7 * 24 * 3600, retry=Q.abandon_retry(),
            description=description)
        pipe = self.conn.pipeline(transaction=False)
        self.queue.enqueue_job(job, pipeline=pipe)
        flat: list = []
        for args, _options in pipe.command_stack:
            flat.append(len(args))
            flat.extend(args)
        pipe.reset()
        return flat

    def store(self, delivery: Delivery, dedupe_keys: Sequence[str], dedupe_ttl: int,
              counter: tuple[str, str] | None = None, replicas: tuple[int, int] | None = None) -> tuple[int, str]:
        """``(QUEUED | COALESCED | DUPLICATE | IN_FLIGHT, job id)``; ``counter`` is a (hash, field) counted
        once for every delivery that reaches the script. Raises ``redis.RedisError`` when Redis is unreachable
        (then nothing, or everything, was stored).

        ``replicas`` = ``(n, timeout_ms)`` (``runtime.redis_conn.replica_wait``): ``WAIT n timeout_ms``
        follows the script on the same connection (one pipeline), so it waits for this write (and,
        for a duplicate, for everything written before, the original delivery included); fewer
        acknowledgements raise ``NotReplicated``."""
        job_id = Q.job_id_for(delivery)
        key_hash, field = counter or ("", "")
        argv = [len(dedupe_keys), int(dedupe_ttl), job_id, Q.JOB_TIMEOUT * 5,
                Job.redis_job_namespace_prefix, key_hash, field, *self._commands(delivery, job_id)]
        script_keys = [*dedupe_keys, job_of(delivery)[1]]
        if replicas is None:
            status, jid = self.script(keys=script_keys, args=argv)
            return int(status), jid.decode() if isinstance(jid, bytes) else str(jid)
        pipe = self.conn.pipeline(transaction=False)     # one connection: WAIT counts its writes
        self.script(keys=script_keys, args=argv, client=pipe)
        pipe.execute_command("WAIT", *replicas)
        (status, jid), acknowledged = pipe.execute()
        jid = jid.decode() if isinstance(jid, bytes) else str(jid)
        if int(acknowledged) < replicas[0]:
            raise NotReplicated(int(status), jid, int(acknowledged), replicas[0])
        return int(status), jid
