"""Few API calls per ticket: bulk reads equal single reads, a backlog is decided in batches by the
non-forking worker (each delivery's job finished with its own result), claims of a dead owner go
back to the queue, and the incremental sweep reads only what changed. Calls are counted by the
local server; nothing here is timed."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rq.job import Job
from rq.serializers import JSONSerializer

from tiergate.jobs import bulkfetch, pool, state, sweep, timers
from tiergate.runtime import keys
from tiergate.jobs.queues import queue
from tiergate.jobs.runtime import Runtime, set_runtime
from tiergate.runtime.config import Settings
from tiergate.plugin.core.model import Note, Timer, TicketUpdate

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = [json.loads(line) for line in (REPO / "examples" / "tickets.jsonl").read_text().splitlines() if line]
UTC = timezone.utc


def api_calls(handle) -> int:
    with handle.state.lock:
        return sum(n for (_m, rule, _s), n in handle.state.stats.items() if "/api/v2" in rule)


def test_fetch_many_builds_the_same_tickets_as_fetch_ticket_in_fewer_calls(zendesk_server, zendesk_connector):
    now = datetime.now(UTC)
    ids = [zendesk_server.import_example(e, now, deliver=False) for e in EXAMPLES]
    first = zendesk_connector.fetch_ticket(ids[0])
    note = Note(body="Escalated.\n\n[tiergate:abc123]", public=False, fingerprint="abc123")
    zendesk_connector.apply(ids[0], TicketUpdate(add_tags=("x",), group_id=103, notes=(note,)),
                            expected_updated_at=first.updated_at, delivery_id="t")
    zendesk_server.add_comment(ids[1], "Any news?", channel="email")
    before = api_calls(zendesk_server)
    got, calls = bulkfetch.fetch_many(zendesk_connector, [*ids, 987654])
    assert api_calls(zendesk_server) - before == calls
    assert calls <= len(ids) + 3 + len({e["organization"]["name"] for e in EXAMPLES if e.get("organization")})
    assert sorted(got) == sorted(ids)                              # the missing ticket left out
    for tid in ids:
        assert got[tid] == zendesk_connector.fetch_ticket(tid), tid


def test_a_backlog_is_decided_in_batches_each_job_finished_with_its_result(zendesk_stack):
    from tiergate.jobs.worker import PooledWorker

    stack = zendesk_stack
    ids = [stack.import_and_wait_for_job(e) for e in EXAMPLES]
    job_ids = list(stack.queue.job_ids)
    assert len(job_ids) == len(ids)
    before = api_calls(stack.desk.handle)
    set_runtime(stack.runtime)
    try:
        PooledWorker([stack.queue], connection=stack.conn, serializer=JSONSerializer,
                     name="pooled-test").work(burst=True, logging_level="WARNING")
    finally:
        set_runtime(None)
    calls = api_calls(stack.desk.handle) - before
    jobs = Job.fetch_many(job_ids, connection=stack.conn, serializer=JSONSerializer)
    assert [j.get_status() for j in jobs] == ["finished"] * len(jobs)
    results = [j.return_value() for j in jobs]
    assert sum(1 for r in results if r.get("batched")) >= len(ids) - 2
    assert {r["ticket_id"] for r in results} == set(ids)
    assert all(state.load_summary(stack.conn, "zendesk", tid) for tid in ids)
    # decided alone, each ticket costs 5 reads and 1-2 writes (and our writes' webhooks bring
    # some tickets back for another decision); in batches about one read per ticket
    assert calls < 5 * len(ids), calls
    assert not list(stack.conn.scan_iter(match=keys.claimed("") + "*"))
    for tid in ids:                       # each note written once
        ticket = stack.connector().fetch_ticket(tid)
        marks = [line for c in ticket.comments for line in c.body.splitlines() if line.startswith("[tiergate:")]
        assert len(marks) == len(set(marks))


def test_claims_of_an_owner_that_is_gone_go_back_to_the_queue(redis_conn, redis_url):
    settings = Settings(redis_url=redis_url, queue_name="tg-pool-test")
    q = queue(redis_conn, settings)
    for i in range(3):
        q.enqueue("tiergate.jobs.process.process_delivery", {"ticket_id": i}, job_id=f"d{i}",
                  description=f"process zendesk ticket {i}")
    owner = q.enqueue("tiergate.jobs.process.process_delivery", {"ticket_id": 9}, job_id="owner",
                      description="process zendesk ticket 9")
    rt = Runtime(settings=settings, conn=redis_conn, connector=None, manifests=None)
    q.remove(owner.id)
    owner.set_status("started")
    claimed = pool.claim(rt, "owner", 2)
    assert [j.id for j in claimed] == ["d0", "d1"] and q.job_ids == ["d2"]
    assert pool.rescue(redis_conn, q) == 0                 # the owner still runs
    again = pool.claim(rt, "owner", 2)                      # its re-run takes its claims first
    assert [j.id for j in again] == ["d0", "d1"]
    owner.set_status("failed")
    assert pool.rescue(redis_conn, q) == 2
    assert sorted(q.job_ids) == ["d0", "d1", "d2"]
    assert Job.fetch("d0", connection=redis_conn, serializer=JSONSerializer).get_status() == "queued"


def _ticket(handle, i: int) -> int:
    return handle.import_example({
        "external_id": f"sw-{i}", "subject": "s", "description": "help", "priority": "normal",
        "status": "open", "type": None, "channel": "web", "tags": [], "age_minutes": 30,
        "group_id": 101, "assignee_id": None,
        "requester": {"name": f"R {i}", "email": f"sw{i}@example.com"}, "organization": None,
        "comments": []}, datetime.now(UTC) - timedelta(minutes=30), deliver=False)


def test_incremental_sweep_reads_only_what_changed(redis_conn, redis_url, zendesk_server, zendesk_connector):
    settings = Settings(redis_url=redis_url, queue_name="tg-sweep-test")
    ids = [_ticket(zendesk_server, i) for i in range(6)]
    now = datetime.now(UTC)
    with zendesk_server.state.lock:                        # created minutes ago, not all in one second
        for n, tid in enumerate(ids):
            zendesk_server.state.tickets[tid]["generated_timestamp"] = int(now.timestamp()) - 600 + n
    timer = Timer(at=now + timedelta(hours=1), kind="sla", name="first_reply_time", stage="breach")
    for tid in ids[:-1]:
        timers.schedule(redis_conn, settings, "zendesk", tid, [timer], now=now - timedelta(minutes=10))
    q = queue(redis_conn, settings)

    def cycle():
        before = api_calls(zendesk_server)
        out = sweep.incremental_sweep(redis_conn, settings, zendesk_connector, datetime.now(UTC))
        return api_calls(zendesk_server) - before, out

    calls, out = cycle()                                     # first cycle: the whole export, once
    assert calls == 1 and out["open"] == 6 and out["reasons"] == {"missing": 1}
    (job,) = q.jobs
    assert job.args[0]["ticket_id"] == ids[-1] and job.args[0]["event_type"] == "sweep:missing"
    assert redis_conn.get(keys.sweep_cursor("zendesk")) is not None
    q.empty()
    timers.schedule(redis_conn, settings, "zendesk", ids[-1], [timer])

    calls, out = cycle()                                     # idle: one export call, nothing else
    assert calls == 1 and out["enqueued"] == 0          # (the boundary second is read again)

    zendesk_server.add_comment(ids[0], "Any news?")          # changed: enqueued, no read spent on it
    zendesk_server.update_ticket(ids[1], status="solved")    # solved: leaves the open set
    redis_conn.zrem(f"rq:scheduled:{q.name}", timers.timer_job_id(    # a lost timer job
        "zendesk", ids[2], timers.timer_key(timer), timers._us(timer.at)))
    calls, out = cycle()
    assert calls == 1 and out["open"] == 5
    assert out["reasons"] == {"changed": 1, "lost": 1}
    assert sorted(j.args[0]["ticket_id"] for j in q.jobs) == sorted([ids[0], ids[2]])
    assert all(j.description.startswith("process zendesk ticket") for j in q.jobs)   # batched by workers

