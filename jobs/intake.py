"""Dedupe and enqueue a verified delivery in ONE atomic Redis step (one round trip).

The receiver used to claim a dedupe key as "pending", enqueue, then mark the key done: a Redis
loss between the claim and the enqueue stranded the key and refused the helpdesk's retries. Here
one Lua script checks the dedupe keys, joins a job still waiting for the same ticket (coalescing,
as ``enqueue_delivery``), or stores the job exactly as RQ's ``Queue.enqueue_job`` would, marks the
dedupe keys and counts the delivery. The job's commands come from a per-process template of what
RQ writes for that job function (``tiergate.jobs.job_template``), inlined in the script so only
the job's data blob, description and timestamp travel per delivery; where RQ's commands cannot be
templated they are recorded per delivery on an unexecuted pipeline and replayed by the script. Redis runs a script whole or not at all, so after any
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

import logging
from typing import Any, Callable, Sequence

from redis import Redis
from rq import Queue
from rq.job import Job

from tiergate.connectors.base import Delivery
from tiergate.connectors.outcome_events import outcome_kind
from tiergate.jobs import queues as Q
from tiergate.jobs.job_template import DATA, DESCRIPTION, JOB_ID, JOB_KEY, STAMP, JobTemplate, TemplateError
from tiergate.runtime import keys
from tiergate.jobs.process import process_delivery
from tiergate.jobs.ticket_outcome import record_outcome
from tiergate.runtime.config import Settings

log = logging.getLogger("tiergate.intake")

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

_SCRIPT_TEXT = """
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
--STORE--
  redis.call('SET', wkey, jid, 'EX', ARGV[4])
end
for i = 1, nd do redis.call('SET', KEYS[i], jid, 'EX', ARGV[2]) end
return {status, jid}
"""
# RQ's recorded commands, replayed from ARGV[8..] (count, command, args; count, ...)
_GENERIC_STORE = """  local i = 8
  while i <= #ARGV do
    local n = tonumber(ARGV[i])
    redis.call(unpack(ARGV, i + 1, i + n))
    i = i + n + 1
  end"""
_SCRIPT = _SCRIPT_TEXT.replace("--STORE--", _GENERIC_STORE)
# a JobTemplate's commands: ARGV[8] data, ARGV[9] description, ARGV[10] timestamp
_TEMPLATE_HOLES = {JOB_ID: "jid", JOB_KEY: "ARGV[5] .. jid", DATA: "ARGV[8]", DESCRIPTION: "ARGV[9]",
                   STAMP: "ARGV[10]"}


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


_JOB_OPTIONS = dict(timeout=Q.JOB_TIMEOUT, result_ttl=Q.RESULT_TTL, failure_ttl=7 * 24 * 3600)


class _Templated:
    """One job function's template and the script that replays it."""

    def __init__(self, template: JobTemplate, script: Any):
        self.template, self.script = template, script


class Intake:
    """Per-process: the queue object, the registered scripts and, per job function, the template
    of the commands RQ writes for its jobs (``tiergate.jobs.job_template``) are built once; the
    templates on first use (recording a job asks Redis for its version once)."""

    def __init__(self, conn: Redis, settings: Settings, *, templates: bool = True):
        self.conn = conn
        self.settings = settings
        self.queue: Queue = Q.queue(conn, settings)   # caches the server version after one call
        self.script = conn.register_script(_SCRIPT)
        self.use_templates = templates
        self._templated: dict[Callable[..., Any], _Templated | None] = {}

    def _commands(self, delivery: Delivery, job_id: str) -> list:
        func, _, description = job_of(delivery)
        job = self.queue.create_job(
            func, args=[delivery.to_dict()], job_id=job_id, retry=Q.abandon_retry(),
            description=description, **_JOB_OPTIONS)
        pipe = self.conn.pipeline(transaction=False)
        self.queue.enqueue_job(job, pipeline=pipe)
        flat: list = []
        for args, _options in pipe.command_stack:
            flat.append(len(args))
            flat.extend(args)
        pipe.reset()
        return flat

    def templated(self, func: Callable[..., Any]) -> _Templated | None:
        """The template for ``func`` jobs, or None when RQ's commands cannot be templated (then
        every job is made by RQ itself, as before)."""
        if not self.use_templates:
            return None
        if func not in self._templated:
            try:
                template = JobTemplate(self.queue, func, retry=Q.abandon_retry, **_JOB_OPTIONS)
            except TemplateError as exc:
                log.warning("job template unavailable func=%s: %s", func.__name__, exc)
                self._templated[func] = None
            else:
                script = self.conn.register_script(
                    _SCRIPT_TEXT.replace("--STORE--", template.lua_block(_TEMPLATE_HOLES, "  ")))
                self._templated[func] = _Templated(template, script)
        return self._templated[func]

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
        func, waiting_key, description = job_of(delivery)
        argv = [len(dedupe_keys), int(dedupe_ttl), job_id, Q.JOB_TIMEOUT * 5,
                Job.redis_job_namespace_prefix, key_hash, field]
        templated = self.templated(func)
        if templated is None:
            script = self.script
            argv.extend(self._commands(delivery, job_id))
        else:
            script = templated.script
            template = templated.template
            argv += [template.data([delivery.to_dict()]), description, template.stamp()]
        script_keys = [*dedupe_keys, waiting_key]
        if replicas is None:
            status, jid = script(keys=script_keys, args=argv)
            return int(status), jid.decode() if isinstance(jid, bytes) else str(jid)
        pipe = self.conn.pipeline(transaction=False)     # one connection: WAIT counts its writes
        script(keys=script_keys, args=argv, client=pipe)
        pipe.execute_command("WAIT", *replicas)
        (status, jid), acknowledged = pipe.execute()
        jid = jid.decode() if isinstance(jid, bytes) else str(jid)
        if int(acknowledged) < replicas[0]:
            raise NotReplicated(int(status), jid, int(acknowledged), replicas[0])
        return int(status), jid
