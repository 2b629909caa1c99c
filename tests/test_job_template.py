"""Jobs stored from a JobTemplate are ordinary RQ jobs.

The receiver stores each delivery's job by filling a per-process template of what RQ writes
(``tiergate.jobs.job_template``) instead of calling ``Queue.create_job`` per delivery. The stored
hash must hold exactly what RQ would have written (timestamps aside), ``Job.fetch`` must read the
same fields, and a real RQ worker must run the job unchanged."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from rq import SimpleWorker
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from tiergate.connectors.base import Delivery
from tiergate.jobs import queues as Q
from tiergate.jobs.intake import QUEUED, Intake
from tiergate.jobs.job_template import JobTemplate
from tiergate.runtime.config import Settings

STAMPS = {b"created_at", b"enqueued_at"}


def mark(payload: dict) -> str:
    """The job the worker test runs: leaves a trace in Redis."""
    from rq import get_current_job

    job = get_current_job()
    job.connection.set("test:job-template:ran", payload["value"])
    return "done " + payload["value"]


def _delivery(event_type: str = "zen:event-type:ticket.comment_added") -> Delivery:
    return Delivery(delivery_id="d-123", ticket_id=42, event_type=event_type, helpdesk="zendesk",
                    received_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
                    detail={"id": "42", "tags": ["vip"], "subject": "ünïcode \"quoted\""})


def _without_stamps(fields: dict) -> dict:
    return {k: v for k, v in fields.items() if k not in STAMPS}


def _job_view(job: Job) -> dict:
    seen = job.to_dict()
    for name in ("created_at", "enqueued_at"):
        seen.pop(name, None)
    seen.update(id=job.id, func_name=job.func_name, args=job.args, kwargs=job.kwargs,
                description=job.description, origin=job.origin, timeout=job.timeout,
                result_ttl=job.result_ttl, failure_ttl=job.failure_ttl, retries_left=job.retries_left,
                retry_intervals=job.retry_intervals, status=job.get_status())
    return seen


@pytest.mark.parametrize("event_type", ["zen:event-type:ticket.comment_added", "outcome:solved"])
def test_templated_store_writes_what_rq_writes(redis_conn, event_type):
    settings = Settings(redis_url="redis://unused", webhook_secret="s")
    delivery = _delivery(event_type)
    job_id = Q.job_id_for(delivery)
    stored = {}
    for templates in (True, False):
        redis_conn.flushall()
        intake = Intake(redis_conn, settings, templates=templates)
        status, jid = intake.store(delivery, ["test:dedupe:d-123"], 60)
        assert (status, jid) == (QUEUED, job_id)
        assert (intake.templated(intake_func(delivery)) is not None) is templates
        keys = sorted(k for k in redis_conn.keys("rq:*"))
        stored[templates] = (keys, redis_conn.hgetall(f"rq:job:{job_id}"),
                             redis_conn.lrange(f"rq:queue:{settings.queue_name}", 0, -1),
                             _job_view(Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)))
        assert set(stored[templates][1]) >= STAMPS
    (keys_t, hash_t, queue_t, view_t), (keys_r, hash_r, queue_r, view_r) = stored[True], stored[False]
    assert keys_t == keys_r
    assert _without_stamps(hash_t) == _without_stamps(hash_r)
    assert set(hash_t) == set(hash_r)
    assert queue_t == queue_r == [job_id.encode()]
    assert view_t == view_r
    assert view_t["args"] == [delivery.to_dict()]


def intake_func(delivery: Delivery):
    from tiergate.jobs.intake import job_of

    return job_of(delivery)[0]


def test_template_fields_match_queue_create_job(redis_conn):
    queue = Q.queue(redis_conn, Settings(redis_url="redis://unused", webhook_secret="s"))
    options = dict(timeout=Q.JOB_TIMEOUT, result_ttl=Q.RESULT_TTL, failure_ttl=3600)
    template = JobTemplate(queue, mark, retry=Q.abandon_retry, **options)
    args = [{"value": "x", "nested": {"a": [1, 2, None], "b": "é"}}]
    pipe = redis_conn.pipeline(transaction=False)
    for command in template.fill("job-templated", template.data(args), "a description", None):
        pipe.execute_command(*command)
    pipe.execute()
    queue.enqueue_job(queue.create_job(mark, args=args, job_id="job-by-rq", description="a description",
                                       retry=Q.abandon_retry(), **options))
    ours = Job.fetch("job-templated", connection=redis_conn, serializer=JSONSerializer)
    theirs = Job.fetch("job-by-rq", connection=redis_conn, serializer=JSONSerializer)
    assert {**_job_view(ours), "id": None} == {**_job_view(theirs), "id": None}
    assert ours.created_at is not None and ours.enqueued_at is not None
    assert _without_stamps(redis_conn.hgetall("rq:job:job-templated")) == \
        _without_stamps(redis_conn.hgetall("rq:job:job-by-rq"))
    assert queue.job_ids == ["job-templated", "job-by-rq"]


def test_a_real_worker_runs_a_templated_job(redis_conn):
    settings = Settings(redis_url="redis://unused", webhook_secret="s")
    queue = Q.queue(redis_conn, settings)
    template = JobTemplate(queue, mark, retry=Q.abandon_retry, timeout=Q.JOB_TIMEOUT,
                           result_ttl=Q.RESULT_TTL, failure_ttl=3600)
    pipe = redis_conn.pipeline(transaction=False)
    for command in template.fill("job-to-run", template.data([{"value": "hello"}]), "mark it", None):
        pipe.execute_command(*command)
    pipe.execute()
    worker = SimpleWorker([queue], connection=redis_conn, serializer=JSONSerializer)
    assert worker.work(burst=True, logging_level="WARNING")
    assert redis_conn.get("test:job-template:ran") == b"hello"
    job = Job.fetch("job-to-run", connection=redis_conn, serializer=JSONSerializer)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == "done hello"
    assert queue.count == 0
