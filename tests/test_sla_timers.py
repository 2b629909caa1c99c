"""Timers on real Redis + RQ: scheduled at the right whole seconds, one job per ticket + stage,
replaced on re-plan, stale and early runs handled, and the sweep catching lost plans."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from tiergate.jobs import timer_jobs, timers as jt
from tiergate.runtime import keys
from tiergate.jobs.queues import queue
from tiergate.jobs.runtime import Runtime, set_runtime
from tiergate.runtime.config import Settings
from tiergate.plugin.core.model import Timer

UTC = timezone.utc
HD = "zendesk"


@pytest.fixture
def settings(redis_url) -> Settings:
    return Settings(redis_url=redis_url, queue_name="tg-timers-test")


@pytest.fixture
def runtime(redis_conn, settings):
    rt = Runtime(settings=settings, conn=redis_conn, connector=None, manifests=None)
    set_runtime(rt)
    yield rt
    set_runtime(None)


def scheduled(conn, settings) -> dict[str, float]:
    reg = ScheduledJobRegistry(queue=queue(conn, settings))
    return {k.decode(): s for k, s in conn.zrange(reg.key, 0, -1, withscores=True)}


def T(at: datetime, name="first_reply_time", stage="breach", kind="sla") -> Timer:
    return Timer(at=at, kind=kind, name=name, stage=stage)


def test_jobs_land_in_the_scheduled_registry_at_the_right_instants(redis_conn, settings):
    now = datetime.now(UTC).replace(microsecond=0)
    warn = now + timedelta(seconds=45, milliseconds=250)
    breach = now + timedelta(seconds=60)
    counts = jt.schedule(redis_conn, settings, HD, 42, [T(warn, stage="warn:75"), T(breach),
                                                       T(now + timedelta(hours=24), "P1 unresolved", "", "trigger")],
                         now=now)
    assert counts == {"scheduled": 3, "kept": 0, "cancelled": 0}
    jobs = scheduled(redis_conn, settings)
    assert len(jobs) == 3
    scores = sorted(jobs.values())
    assert scores[0] == math.ceil(warn.timestamp())          # never before the instant
    assert scores[1] == breach.timestamp()
    assert scores[2] == (now + timedelta(hours=24)).timestamp()
    plan = jt.planned(redis_conn, HD, 42)
    assert plan == {"sla:first_reply_time:warn:75": warn, "sla:first_reply_time:breach": breach,
                    "trigger:P1 unresolved:": now + timedelta(hours=24)}
    job = Job.fetch(next(iter(k for k in jobs if "warn" in k)), connection=redis_conn,
                    serializer=queue(redis_conn, settings).serializer)
    assert job.func_name == jt.TIMER_FUNC
    assert job.args[0]["stage"] == "warn:75" and job.args[0]["ticket_id"] == 42


def test_same_plan_is_kept_and_a_new_plan_replaces_the_old_jobs(redis_conn, settings):
    now = datetime.now(UTC)
    plan1 = [T(now + timedelta(minutes=45), stage="warn:75"), T(now + timedelta(minutes=60))]
    jt.schedule(redis_conn, settings, HD, 7, plan1, now=now)
    before = scheduled(redis_conn, settings)
    assert jt.schedule(redis_conn, settings, HD, 7, plan1, now=now) == \
        {"scheduled": 0, "kept": 2, "cancelled": 0}
    assert scheduled(redis_conn, settings) == before
    # priority raised: breach moves earlier, warn already passed -> only the breach remains
    plan2 = [T(now + timedelta(minutes=5))]
    assert jt.schedule(redis_conn, settings, HD, 7, plan2, now=now) == \
        {"scheduled": 1, "kept": 0, "cancelled": 2}
    after = scheduled(redis_conn, settings)
    assert list(after.values()) == [math.ceil((now + timedelta(minutes=5)).timestamp())]
    for old in before:
        assert not redis_conn.exists(Job.key_for(old))
    assert list(jt.planned(redis_conn, HD, 7)) == ["sla:first_reply_time:breach"]
    # nothing left to plan: everything cancelled, the plan itself stays (for the sweep)
    assert jt.schedule(redis_conn, settings, HD, 7, [], now=now)["cancelled"] == 1
    assert scheduled(redis_conn, settings) == {} and jt.planned(redis_conn, HD, 7) == {}
    assert redis_conn.hexists(keys.timer_index(HD, 7), jt.PLANNED)


def test_one_job_per_ticket_and_stage_across_tickets(redis_conn, settings):
    now = datetime.now(UTC)
    for ticket_id in (1, 2, 3):
        jt.schedule(redis_conn, settings, HD, ticket_id,
                    [T(now + timedelta(minutes=10)), T(now + timedelta(minutes=9))], now=now)
    # duplicates of one key keep the earliest instant
    assert len(scheduled(redis_conn, settings)) == 3
    assert all(v == math.ceil((now + timedelta(minutes=9)).timestamp())
               for v in scheduled(redis_conn, settings).values())


def test_timer_due_skips_stale_and_reschedules_early(redis_conn, settings, runtime, monkeypatch):
    calls = []
    monkeypatch.setattr(timer_jobs, "wake",
                        lambda *a, **k: calls.append(a) or {"status": "unchanged"})
    now = datetime.now(UTC)
    jt.schedule(redis_conn, settings, HD, 9, [T(now + timedelta(seconds=1))], now=now)
    stale = {"helpdesk": HD, "ticket_id": 9, "kind": "sla", "name": "first_reply_time",
             "stage": "breach", "at_us": jt._us(now) - 5_000_000}
    assert timer_jobs.timer_due(stale)["status"] == "stale" and calls == []
    early = dict(stale, at_us=jt._us(now + timedelta(minutes=3)))
    redis_conn.hset(keys.timer_index(HD, 9), "sla:first_reply_time:breach", early["at_us"])
    out = timer_jobs.timer_due(early)
    assert out["status"] == "early" and calls == []
    assert out["rescheduled"] in scheduled(redis_conn, settings)
    # slightly early: sleeps the rest, then wakes the decision with a deterministic delivery id
    soon = dict(stale, at_us=jt._us(datetime.now(UTC) + timedelta(milliseconds=300)))
    redis_conn.hset(keys.timer_index(HD, 9), "sla:first_reply_time:breach", soon["at_us"])
    out = timer_jobs.timer_due(soon)
    assert out["status"] == "fired" and out["lag_s"] >= 0
    assert calls == [(HD, 9, "timer:sla:first_reply_time:breach",
                      f"timer:sla:first_reply_time:breach:{soon['at_us']}")]
    assert len(jt.lag_samples(redis_conn)) == 1


def test_a_real_worker_runs_due_timers_on_time(redis_conn, settings, runtime, monkeypatch):
    """RQ worker with scheduler (burst) picks the due job; it wakes process_ticket."""
    import time

    from rq import Worker

    def fake_process(helpdesk, ticket_id, reason, delivery_id):
        redis_conn.rpush("test:woken", f"{ticket_id}|{reason}|{time.time()}")
        return {"status": "unchanged"}

    monkeypatch.setattr(timer_jobs, "wake", fake_process)
    now = datetime.now(UTC)
    due = now + timedelta(seconds=1.5)
    jt.schedule(redis_conn, settings, HD, 11, [T(due, stage="warn:75")], now=now)
    jt.schedule(redis_conn, settings, HD, 12, [T(now + timedelta(hours=1))], now=now)
    time.sleep(max(0.0, math.ceil(due.timestamp()) - time.time()) + 0.05)
    w = Worker([queue(redis_conn, settings)], connection=redis_conn,
               serializer=queue(redis_conn, settings).serializer)
    w.work(burst=True, with_scheduler=True, logging_level="WARNING")
    woken = [x.decode().split("|") for x in redis_conn.lrange("test:woken", 0, -1)]
    assert [(w_[0], w_[1]) for w_ in woken] == [("11", "timer:sla:first_reply_time:warn:75")]
    assert float(woken[0][2]) >= due.timestamp()
    assert len(scheduled(redis_conn, settings)) == 1           # ticket 12's timer still waits


# -- sweep ------------------------------------------------------------------------------------------
def _import(server, external_id: str, status: str = "open") -> int:
    now = datetime.now(UTC)
    return server.import_example({
        "external_id": external_id, "subject": "s", "description": "help", "priority": "normal",
        "status": status, "type": None, "channel": "web", "tags": [], "age_minutes": 10,
        "group_id": 101, "assignee_id": None,
        "requester": {"name": f"R {external_id}", "email": f"{external_id}@example.com"},
        "organization": None, "comments": []}, now, deliver=False)


def test_sweep_enqueues_only_tickets_whose_plan_is_missing_lost_or_stale(
        redis_conn, settings, zendesk_server, zendesk_connector):
    a, b, c, d = (_import(zendesk_server, f"sw-{i}") for i in range(4))
    solved = _import(zendesk_server, "sw-solved", status="solved")
    now = datetime.now(UTC) + timedelta(seconds=10)
    jt.schedule(redis_conn, settings, HD, a, [T(now + timedelta(hours=1))], now=now)  # intact
    jt.schedule(redis_conn, settings, HD, b, [T(now + timedelta(hours=1))], now=now)
    redis_conn.zremrangebyrank(ScheduledJobRegistry(queue=queue(redis_conn, settings)).key, 0, -1)
    redis_conn.delete(keys.timer_index(HD, a))
    jt.schedule(redis_conn, settings, HD, a, [T(now + timedelta(hours=1))], now=now)  # re-plan a
    redis_conn.hset(keys.timer_index(HD, c), mapping={jt.PLANNED: jt._us(now),
                                                  "sla:x:breach": jt._us(now - timedelta(hours=1))})
    out = jt.sweep(redis_conn, settings, zendesk_connector, now)
    assert out["seen"] == 4 and out["enqueued"] == 3
    assert out["reasons"] == {"lost": 1, "overdue": 1, "missing": 1}
    q = queue(redis_conn, settings)
    ids = sorted(j.args[0]["ticket_id"] for j in q.jobs)
    assert ids == sorted([b, c, d]) and solved not in ids
    assert all(j.func_name == jt.PROCESS_JOB_FUNC for j in q.jobs)
    # a second sweep does not duplicate decisions still waiting in the queue
    assert jt.sweep(redis_conn, settings, zendesk_connector, now + timedelta(seconds=1),
                    full=True)["enqueued"] == 1
    assert q.count == 4


def test_sweep_chain_schedules_one_job_per_slot(redis_conn, settings):
    now = datetime(2030, 1, 1, 12, 3, 10, tzinfo=UTC)
    j1 = jt.start_sweeps(redis_conn, settings, 300, now=now)
    j2 = jt.start_sweeps(redis_conn, settings, 300, now=now + timedelta(seconds=5))
    assert j1 == j2
    assert list(scheduled(redis_conn, settings).values()) == [datetime(2030, 1, 1, 12, 5, tzinfo=UTC).timestamp()]


def _sweep(redis_conn, settings, connector) -> dict:
    """One ``sweep_job`` run (60 s interval) with a runtime on ``connector``."""
    set_runtime(Runtime(settings=settings, conn=redis_conn, connector=connector, manifests=None))
    try:
        return timer_jobs.sweep_job({"interval": 60})
    finally:
        set_runtime(None)


def test_sweep_job_sweeps_and_schedules_the_next_sweep(redis_conn, settings, zendesk_server,
                                                        zendesk_connector):
    ticket_id = _import(zendesk_server, "sw-job")
    out = _sweep(redis_conn, settings, zendesk_connector)
    assert out["enqueued"] == 1 and out["reasons"] == {"missing": 1}
    (job,) = queue(redis_conn, settings).jobs
    assert job.args[0]["ticket_id"] == ticket_id and job.args[0]["event_type"] == "sweep:missing"
    (next_sweep,) = scheduled(redis_conn, settings)
    assert next_sweep.startswith("tg-sweeper-")
    assert scheduled(redis_conn, settings)[next_sweep] % 60 == 0


def test_a_sweep_while_the_desk_is_down_is_skipped_and_the_next_one_scheduled(
        redis_conn, settings, zendesk_server, zendesk_connector):
    _import(zendesk_server, "sw-down")
    zendesk_server.set_knobs(fail_next=1000, fail_status=503)
    try:
        out = _sweep(redis_conn, settings, zendesk_connector)
    finally:
        zendesk_server.set_knobs(fail_next=0)
    assert out == {"skipped": "Unavailable"}
    assert redis_conn.get(keys.sweep_cursor("zendesk")) is None      # nothing read, nothing skipped
    assert queue(redis_conn, settings).jobs == []
    (next_sweep,) = scheduled(redis_conn, settings)
    assert next_sweep.startswith("tg-sweeper-")
