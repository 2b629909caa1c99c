"""``tiergate worker``: an RQ worker (with scheduler) that loads the manifest and the spaCy
pipeline once and runs every job in the worker process itself (``PooledWorker``, RQ's ``SimpleWorker``
way: no fork per job); ``--fork`` keeps RQ's fork-per-job worker, whose forked jobs inherit the
warm pipeline. A delivery job that finds others waiting decides them together
(``jobs/pool.py``)."""
from __future__ import annotations

import logging
import sys
import time

import click
from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError
from rq import SimpleWorker, Worker
from rq.serializers import JSONSerializer

from tiergate.jobs.memory import return_large_blocks
from tiergate.jobs.pool import rescue
from tiergate.jobs.queues import queue
from tiergate.jobs.runtime import build_runtime, get_runtime, set_runtime
from tiergate.jobs.timers import start_sweeps
from tiergate.runtime.config import Settings
from tiergate.runtime.redact import MASK, install as install_redaction, secret_values

HEARTBEAT_EVERY = 2        # seconds between a busy worker's heartbeats (RQ default 30)
ABANDON_GRACE = 10         # a job is abandoned this long after its worker's last heartbeat (RQ: 60)
MAINTENANCE_EVERY = 5      # seconds between registry clean-ups (RQ default 600)
WORKER_TTL = 30            # idle dequeue blocks WORKER_TTL - 15 s, so clean-ups run that often


class ReliableWorker(Worker):
    """An RQ worker that notices a dead colleague's job within seconds: short heartbeats, a short
    grace, frequent clean-ups. RQ's own ``StartedJobRegistry.cleanup`` then re-enqueues the
    abandoned job when it has retries left (deliveries are enqueued with ``Retry``) or moves it
    to the failed registry with ``AbandonedJobError``."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("job_monitoring_interval", HEARTBEAT_EVERY)
        kwargs.setdefault("maintenance_interval", MAINTENANCE_EVERY)
        kwargs.setdefault("worker_ttl", WORKER_TTL)
        super().__init__(*args, **kwargs)

    def clean_registries(self):
        super().clean_registries()
        for q in self.queues:
            try:
                rescue_stranded(self, q)

                rescue(self.connection, q)
            except Exception:  # noqa: BLE001 - maintenance must not stop the worker
                logging.getLogger("tiergate.jobs").exception("stranded-job rescue failed")

    def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
        if job.timeout and job.timeout > 0:
            return int(max(1, min(job.timeout - working_time, self.job_monitoring_interval))) + ABANDON_GRACE
        return self.job_monitoring_interval + ABANDON_GRACE


class PooledWorker(ReliableWorker):
    """``ReliableWorker`` that runs each job in the worker process itself (no fork): the model,
    connections and caches stay warm across jobs. A job that kills the process is re-run by
    another worker's abandoned-job clean-up, as with a killed work-horse."""

    execute_job = SimpleWorker.execute_job


def rescue_stranded(worker: Worker, q) -> int:
    """Jobs a worker took off the queue (RQ's intermediate list) but died before starting: RQ
    waits a minute before failing (and so retrying) them; after ``ABANDON_GRACE`` we do it."""
    inter = q.intermediate_queue
    rescued = 0
    for job_id in inter.get_job_ids():
        if job_id in q.started_job_registry:
            continue
        first = inter.get_first_seen(job_id)
        if first is None:
            inter.set_first_seen(job_id)
            continue
        if time.time() - first.timestamp() < ABANDON_GRACE:
            continue
        job = q.fetch_job(job_id)
        if job is not None:
            worker.handle_job_failure(job, q, exc_string="Job was stranded by a dead worker.")
        inter.remove(job_id)
        rescued += 1
    return rescued


# one customer message that runs every lazily loaded part of the enrichment once
WARM_TEXT = ("Checkout is down for all our stores and we are losing money every minute; "
             "please escalate, our contract renewal depends on it.")


def warm(enricher) -> None:
    """Score one message before the first job, so the lazily loaded parts (the language
    identifier's model, the risk rules' compiled patterns) are loaded at start, not while a
    ticket waits. Best effort: a failure here is the first job's to report."""
    try:
        enricher.score_many([[WARM_TEXT]])
    except Exception as exc:  # noqa: BLE001 - warming must never stop a worker from starting
        logging.getLogger("tiergate.jobs").warning("enrichment warm-up failed error=%s", type(exc).__name__)


def release_dead_scheduler(w: Worker) -> bool:
    """The RQ scheduler process of ``w`` died with the Redis connection (an outage, a fail-over),
    but its lock (``rq:scheduler-lock:<queue>``, kept by AOF or replication) would keep the next
    worker's scheduler out for a minute, delaying every rescheduled job and batch flush: release
    it (token-checked: only a lock still held by that dead scheduler is deleted)."""
    scheduler = getattr(w, "scheduler", None)
    if scheduler is None or (scheduler._process is not None and scheduler._process.is_alive()):
        return False
    try:
        scheduler.release_locks()
    except (RedisConnectionError, RedisTimeoutError):
        return False
    return True


def make_worker(settings: Settings, *, name: str | None = None, fork: bool = False) -> Worker:
    runtime = build_runtime(settings)
    warm(runtime.enricher(runtime.manifest()))    # warm: forked jobs inherit the pipeline
    set_runtime(runtime)

    start_sweeps(runtime.conn, settings)         # the periodic catch-all re-plan (idempotent)
    cls = ReliableWorker if fork else PooledWorker
    return cls([queue(runtime.conn, settings)], connection=runtime.conn, serializer=JSONSerializer, name=name)


@click.command()
@click.option("--burst", is_flag=True, help="Exit when the queue is empty (tests, one-off runs).")
@click.option("--name", default=None, help="Worker name (default: RQ's).")
@click.option("--log-level", default="INFO", show_default=True)
@click.option("--fork", is_flag=True, help="Fork a process per job (RQ's Worker) instead of running jobs in the worker.")
def worker(burst: bool, name: str | None, log_level: str, fork: bool) -> None:
    """Run a worker: re-fetch, enrich, decide and write back, plus due SLA timers.

    Configured by REDIS_URL, TIERGATE_MANIFEST and the helpdesk variables (ZENDESK_*).
    """
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return_large_blocks()
    settings = Settings.from_env()

    install_redaction(settings, ("tiergate", "rq.worker", "rq.scheduler", "rq.queue", "rq.job", "redis"))
    logging.getLogger("tiergate").info("worker settings %s", settings.redacted())
    try:
        w = make_worker(settings, name=name, fork=fork)
    except Exception as exc:  # a bad manifest or unreachable Redis: one clear line, exit 2
        message = str(exc)
        for secret in secret_values(settings):
            message = message.replace(secret, MASK)
        click.echo(f"tiergate worker: cannot start: {message}", err=True)
        sys.exit(2)
    work_through_outages(w, settings, name=name, burst=burst, log_level=log_level.upper())


def work_through_outages(w: Worker, settings: Settings, *, name: str | None, burst: bool,
                         log_level: str, max_outage: float = 24 * 3600.0) -> None:
    """Run ``w``; when Redis goes away, wait for it (backoff up to 5 s) and resume with a fresh
    RQ worker on the same runtime. Jobs that were running are re-run by RQ's abandoned-job
    clean-up (a job's heartbeat stopped with Redis), so nothing is lost and nothing is skipped."""
    log = logging.getLogger("tiergate.jobs")
    rounds = 0
    while True:
        try:
            w.work(with_scheduler=True, burst=burst, logging_level=log_level)
            return
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.warning("redis unreachable (%s): waiting to reconnect", type(exc).__name__)
        runtime = get_runtime()
        delay, began = 0.2, time.monotonic()
        while True:
            try:
                runtime.conn.ping()
                break
            except (RedisConnectionError, RedisTimeoutError):
                if time.monotonic() - began > max_outage:
                    raise
                time.sleep(delay)
                delay = min(5.0, delay * 2)
        rounds += 1
        log.warning("redis is back after %.1fs: resuming", time.monotonic() - began)
        release_dead_scheduler(w)
        w = type(w)([queue(runtime.conn, settings)], connection=runtime.conn, serializer=JSONSerializer,
                    name=f"{name}-r{rounds}" if name else None)
