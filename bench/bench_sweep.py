"""API calls of the SLA/timer sweep with many open tickets (``jobs/sweep.py``), on the local
Zendesk-compatible server, counted by the server.

Setup: ``N`` open tickets (10,000; quick: 1,000) created over the past hours, each with a timer
plan already made by an earlier decision (one SLA timer two hours ahead, ``timers.schedule``).
Cycles, each one ``incremental_sweep`` followed by a real RQ worker (``PooledWorker``, burst) that
runs every decision the sweep enqueued:
1. first cycle (no cursor): the whole export once;
2. idle cycle: nothing changed;
3. changed cycle: ``K`` tickets (100; quick: 50) got a customer comment since the last cycle;
4. idle cycle again (the decisions of cycle 3 re-planned those tickets).

Baseline (same run): the full sweep (``timers.sweep``, every open ticket fetched whole) over a
second server holding a small sample of the same tickets: its calls per open ticket.

Rows: ``sweep_calls_per_changed_ticket`` (cycle 3 calls, sweep and decisions, / K),
``sweep_calls_per_idle_ticket`` (cycle 2 calls / N), and the raw cycle counts against the target
``changed + 5``.
"""
from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone


def _calls(handle) -> int:
    with handle.state.lock:
        return sum(n for (_m, rule, _s), n in handle.state.stats.items() if "/api/v2" in rule)


def _seed(handle, n: int, now: datetime) -> list[int]:
    first = handle.seed_ticket("Where is my invoice?", "Please send the invoice again.")
    ids = [first["id"]] + [handle.seed_ticket(f"Question {i}", "Please help with my account.",
                                              requester_id=first["requester_id"])["id"] for i in range(n - 1)]
    base = int(now.timestamp()) - 600 - n          # spread over the past, like real tickets
    with handle.state.lock:
        for i, tid in enumerate(ids):
            handle.state.tickets[tid]["generated_timestamp"] = base + i
    return ids


def _plan(conn, settings, ids: list[int], now: datetime) -> None:
    from tiergate.jobs import timers
    from tiergate.plugin.core.model import Timer

    timer = Timer(at=now + timedelta(hours=2), kind="sla", name="first_reply_time", stage="breach")
    for tid in ids:
        timers.schedule(conn, settings, "zendesk", tid, [timer], now=now)


def _drain(settings) -> None:
    from tiergate.jobs.worker import PooledWorker
    from tiergate.jobs.queues import queue
    from tiergate.jobs.runtime import get_runtime
    from rq.serializers import JSONSerializer

    rt = get_runtime()
    w = PooledWorker([queue(rt.conn, settings)], connection=rt.conn, serializer=JSONSerializer)
    w.work(burst=True, logging_level="ERROR")


def _baseline(settings_for, sample: int, now: datetime) -> float:
    from redis import Redis

    from tiergate.connectors.zendesk import from_connection
    from tiergate.localdesk.zendesk import start_server
    from tiergate.jobs import timers

    handle = start_server(port=0)
    try:
        settings = settings_for(handle)
        conn = Redis.from_url(settings.redis_url)
        ids = _seed(handle, sample, now)
        _plan(conn, settings, ids, now)
        connector = from_connection(settings.connection())
        before = _calls(handle)
        timers.sweep(conn, settings, connector, now)
        return (_calls(handle) - before) / sample
    finally:
        handle.stop()


def run(quick: bool) -> list[dict]:
    from redis import Redis

    from tiergate.localdesk.zendesk import start_server
    from tiergate.jobs import sweep
    from tiergate.jobs.runtime import build_runtime, set_runtime
    from tiergate.runtime.config import Settings
    from tiergate.plugin.embedded import start_redis

    n, k = (1_000, 50) if quick else (10_000, 100)
    rng = random.Random(19)
    tmp = tempfile.mkdtemp(prefix="tg-bench-sweep-")
    redis_server = start_redis()
    handle = start_server(port=0)

    def settings_for(h):
        return Settings.from_env({}, redis_url=redis_server.url, helpdesk="zendesk", webhook_secret="x",
                                 db_url=f"sqlite:///{tmp}/log.sqlite", **h.settings_overrides())

    try:
        now = datetime.now(timezone.utc)
        base_per_ticket = _baseline(settings_for, 100 if quick else 200, now)
        Redis.from_url(redis_server.url).flushdb()
        settings = settings_for(handle)
        conn = Redis.from_url(settings.redis_url)
        ids = _seed(handle, n, now)
        _plan(conn, settings, ids, now)
        runtime = build_runtime(settings)
        set_runtime(runtime)

        def cycle() -> tuple[int, dict]:
            before = _calls(handle)
            out = sweep.incremental_sweep(conn, settings, runtime.connector, datetime.now(timezone.utc))
            _drain(settings)
            return _calls(handle) - before, out

        first, first_out = cycle()
        idle, idle_out = cycle()
        changed = rng.sample(ids, k)
        # a change counts once it is later than the plan by more than the sweep's grace; the
        # desk stamps updated_at in whole seconds (as Zendesk does), so one more second
        from tiergate.jobs.timers import CHANGED_GRACE
        wait = (now + CHANGED_GRACE - datetime.now(timezone.utc)).total_seconds() + 1.5
        if wait > 0:
            time.sleep(wait)
        for tid in changed:
            handle.add_comment(tid, "Any news on this? I am still waiting.")
        time.sleep(0.01)
        busy, busy_out = cycle()
        idle2, idle2_out = cycle()
    finally:
        set_runtime(None)
        handle.stop()
        redis_server.stop()
    if busy_out["enqueued"] != k or idle_out["enqueued"] or idle2_out["enqueued"] or first_out["enqueued"]:
        raise AssertionError(f"sweep enqueued unexpected decisions: first={first_out} idle={idle_out} "
                             f"changed={busy_out} idle again={idle2_out}")
    return [
        {"name": "sweep_calls_per_changed_ticket", "value": round(busy / k, 4), "unit": "calls/changed ticket",
         "baseline": round(base_per_ticket, 4), "ratio": round(busy / k / base_per_ticket, 4)},
        {"name": "sweep_calls_per_idle_ticket", "value": round(idle / n, 6), "unit": "calls/idle ticket",
         "baseline": round(base_per_ticket, 4), "ratio": round(idle / n / base_per_ticket, 6)},
        {"name": f"sweep calls, cycle with {k} of {n} open tickets changed (target: changed + 5)",
         "value": busy, "unit": "calls", "baseline": k + 5, "ratio": round(busy / (k + 5), 3)},
        {"name": f"sweep calls, idle cycles with {n} open tickets (after the first, after decisions)",
         "value": max(idle, idle2), "unit": "calls", "baseline": 5, "ratio": round(max(idle, idle2) / 5, 3)},
        {"name": f"sweep calls, first cycle (whole export) with {n} open tickets",
         "value": first, "unit": "calls", "baseline": round(base_per_ticket * n), "ratio": round(first / (base_per_ticket * n), 5)},
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(json.dumps(row))
