"""Bursts coalesce into update_many without losing or doubling notes; workers ride out a Redis
restart. Real Redis (a private one per outage test), real RQ, the local Zendesk server over HTTP."""
from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import requests
from redis import Redis
from rq.registry import ScheduledJobRegistry

from fixtures_stack import build_stack, wait_until
from tiergate.jobs import batching, state
from tiergate.runtime import keys
from tiergate.jobs.process import process_ticket
from tiergate.plugin.embedded import start_redis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from chaos_traffic import fingerprints, signed_delivery, ticket_from_template, tiergate_notes  # noqa: E402
from chaos_workers import WorkerProc, worker_env  # noqa: E402

TEMPLATES = [json.loads(line) for line in (REPO / "examples" / "tickets.jsonl").read_text().splitlines()]
BY_ID = {t["external_id"]: t for t in TEMPLATES}


def drain(stack, timeout: float = 60.0) -> None:
    """Run burst workers (with the scheduler) until no job, flush or parked decision is left."""
    deadline = time.monotonic() + timeout
    scheduled = ScheduledJobRegistry(queue=stack.queue)
    while time.monotonic() < deadline:
        stack.work(with_scheduler=True)
        waiting = [j for j in scheduled.get_job_ids() if j.startswith(("tg-retry", "tg-flush"))]
        if not (waiting or stack.queue.count or stack.conn.hlen(keys.batch_pending("zendesk"))
                or stack.conn.hlen(keys.batch_inflight("zendesk"))):
            return
        time.sleep(0.3)
    raise AssertionError("work did not drain")


def test_burst_writes_back_through_update_many_exactly_once(zendesk_stack, monkeypatch):
    stack = zendesk_stack
    monkeypatch.setenv("TIERGATE_BATCH_THRESHOLD", "-1")      # every write-back is a burst one
    handle = stack.desk.handle
    ids = {}
    for n in range(20):
        tpl = TEMPLATES[n % len(TEMPLATES)]
        ids[stack.import_and_wait_for_job(ticket_from_template(tpl, n))] = tpl["external_id"]
    drain(stack)
    assert handle.count("PUT", "/tickets/<int:ticket_id>") == 0, "no per-ticket write in a burst"
    bulk_calls = handle.count("PUT", "update_many")
    assert 1 <= bulk_calls <= 3
    escalated = 0
    for tid, ext in ids.items():
        ticket = stack.connector().fetch_ticket(tid)
        notes = tiergate_notes(ticket)
        fps = fingerprints(notes)
        # one handoff note at most; an SLA warning or an after-hours page note may join it,
        # depending on the hour of the run
        handoffs = [n for n in notes if "**Why it escalated**" in n]
        assert len(fps) == len(set(fps)) and len(set(notes)) == len(notes), (ext, notes)
        assert len(handoffs) <= 1, (ext, notes)
        summary = state.load_summary(stack.conn, "zendesk", tid)
        assert summary is not None, "the flusher records the decision after the write"
        if summary["fired"]:
            escalated += 1
            assert notes, "a fired trigger writes its note"
            assert {f"tg_fired_{name}" for name in summary["fired"]} <= set(ticket.tags)
            assert stack.conn.exists(f"tg:fired:zendesk:{tid}"), "fired state stored after the write"
    assert escalated >= 8
    # re-running every ticket changes nothing: fingerprints and fired state hold across the bulk path
    for tid in ids:
        assert process_ticket("zendesk", tid, "again", "again", runtime=stack.runtime)["status"] == "unchanged"
    assert handle.count("PUT", "update_many") == bulk_calls


def test_bulk_conflict_is_redecided_with_a_fresh_fetch_and_one_note(zendesk_stack, monkeypatch):
    stack = zendesk_stack
    monkeypatch.setenv("TIERGATE_BATCH_THRESHOLD", "-1")
    tid = stack.import_and_wait_for_job(BY_ID["demo-legal"])
    stack.queue.empty()
    result = process_ticket("zendesk", tid, "burst", "d-1", runtime=stack.runtime)
    assert result["status"] == "parked" and batching.is_parked(stack.conn, "zendesk", tid)
    stack.desk.handle.update_ticket(tid, priority="high")        # an agent edits before the flush
    totals = batching.flush(stack.runtime, "zendesk")
    assert totals["calls"] == 1 and totals["conflicts"] == 1 and totals["written"] == 0
    assert tiergate_notes(stack.connector().fetch_ticket(tid)) == []
    assert not batching.is_parked(stack.conn, "zendesk", tid)
    monkeypatch.setenv("TIERGATE_BATCH_THRESHOLD", "100000")
    drain(stack)                                                  # the direct re-decision writes once
    ticket = stack.connector().fetch_ticket(tid)
    assert len(tiergate_notes(ticket)) == 1
    assert ticket.priority in ("high", "urgent")


def test_a_parked_ticket_keeps_one_writer(zendesk_stack, monkeypatch):
    """While a decision waits for the flusher, later decisions for that ticket are parked too
    (replacing it), even with the backlog gone: never a direct write racing the bulk one."""
    stack = zendesk_stack
    monkeypatch.setenv("TIERGATE_BATCH_THRESHOLD", "-1")
    tid = stack.import_and_wait_for_job(BY_ID["demo-outage"])
    stack.queue.empty()
    assert process_ticket("zendesk", tid, "a", "d-a", runtime=stack.runtime)["status"] == "parked"
    monkeypatch.setenv("TIERGATE_BATCH_THRESHOLD", "100000")
    assert process_ticket("zendesk", tid, "b", "d-b", runtime=stack.runtime)["status"] == "parked"
    assert stack.conn.hlen(keys.batch_pending("zendesk")) == 1
    batching.flush(stack.runtime, "zendesk")
    assert len(tiergate_notes(stack.connector().fetch_ticket(tid))) == 1


def test_workers_reconnect_after_redis_restarts_and_queued_work_survives(tmp_path):
    (tmp_path / "redis").mkdir()
    aof = dict(appendonly=True, workdir=str(tmp_path / "redis"))       # kept across the restart
    server = start_redis(**aof)
    stack, close = build_stack("zendesk", server.url, tmp_path)
    worker = WorkerProc(worker_env(stack.settings), "outage", str(tmp_path / "worker.log")).start()
    try:
        first = stack.desk.import_example(ticket_from_template(BY_ID["demo-outage"], 1), datetime.now(timezone.utc))
        wait_until(lambda: tiergate_notes(stack.connector().fetch_ticket(first)), timeout=60, interval=0.5)
        server.stop()                                                    # Redis goes away
        body, headers = signed_delivery(first, "during-outage", stack.settings.webhook_secret)
        answer = requests.post(f"{stack.receiver_url}/webhooks/zendesk", data=body, headers=headers, timeout=10)
        assert answer.status_code == 503 and answer.headers.get("Retry-After")
        time.sleep(3)                                                    # the worker meets the outage
        assert worker.proc.poll() is None, "the worker process survives the outage"
        server = start_redis(server.port, **aof)                          # same port, same AOF
        assert Redis.from_url(server.url).exists(f"tg:fired:zendesk:{first}"), "AOF kept the state"
        second = stack.desk.import_example(ticket_from_template(BY_ID["demo-legal"], 2), datetime.now(timezone.utc))
        wait_until(lambda: tiergate_notes(stack.connector().fetch_ticket(second)), timeout=90, interval=0.5)
        assert worker.proc.poll() is None
        assert len(tiergate_notes(stack.connector().fetch_ticket(first))) == 1
    finally:
        worker.stop()
        close()
        server.stop()


def test_a_killed_flushers_batch_is_resent_without_losing_or_doubling_the_note(zendesk_stack, monkeypatch):
    stack = zendesk_stack
    monkeypatch.setenv("TIERGATE_BATCH_THRESHOLD", "-1")
    tid = stack.import_and_wait_for_job(BY_ID["demo-outage"])
    stack.queue.empty()
    assert process_ticket("zendesk", tid, "burst", "d-k", runtime=stack.runtime)["status"] == "parked"
    entry = stack.conn.hget(keys.batch_pending("zendesk"), tid).decode()

    def die_after_taking():      # a flush job took the entry, then its worker was SIGKILLed
        stack.conn.hdel(keys.batch_pending("zendesk"), tid)
        stack.conn.hset(keys.batch_inflight("zendesk"), tid, f"tg-flush-dead|{time.time()}|{entry}")

    die_after_taking()           # ... before its update_many was sent: the re-send writes it
    assert batching.flush(stack.runtime, "zendesk")["written"] == 1
    assert len(tiergate_notes(stack.connector().fetch_ticket(tid))) == 1
    die_after_taking()           # ... after its update_many landed: the re-send conflicts
    totals = batching.flush(stack.runtime, "zendesk")
    assert totals["conflicts"] == 1 and totals["written"] == 0
    monkeypatch.setenv("TIERGATE_BATCH_THRESHOLD", "100000")
    drain(stack)
    assert len(tiergate_notes(stack.connector().fetch_ticket(tid))) == 1


def test_a_dead_schedulers_lock_is_released_when_redis_is_back_and_no_one_elses(redis_conn):
    from rq import Queue, Worker
    from rq.scheduler import RQScheduler

    from tiergate.jobs.worker import release_dead_scheduler

    q = Queue("tg-scheduler-lock", connection=redis_conn)
    key = RQScheduler.get_locking_key(q.name)
    w = Worker([q], connection=redis_conn)
    w.scheduler = RQScheduler([q], connection=redis_conn)
    w.scheduler.acquire_locks()                 # its process never ran (or died): the lock stays
    assert redis_conn.get(key).decode() == w.scheduler.name
    assert release_dead_scheduler(w) is True
    assert not redis_conn.exists(key), "the next worker's scheduler can take over at once"
    other = RQScheduler([q], connection=redis_conn)
    other.acquire_locks()                       # a live colleague's scheduler holds it now
    w.scheduler.acquire_locks()
    release_dead_scheduler(w)
    assert redis_conn.get(key).decode() == other.name, "another scheduler's lock is left alone"
