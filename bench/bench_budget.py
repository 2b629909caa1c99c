"""API calls of the whole plugin at 1 customer change per second with a large open backlog, on
the local Zendesk-compatible server with its rate limit at 700/min, counted by the server.

Setup: a private Redis, the local server (``rate_limit_per_minute=700``) with tiergate installed
(its webhook and trigger), the receiver on a real socket, one ``tiergate worker`` subprocess
(``TIERGATE_RATE_BUDGET=off``: the server's knob is the enforced limit). ``N`` open tickets
(10,000; quick: 500) seeded directly (no HTTP), created over the past hours, each with a timer
plan already made by an earlier decision (one SLA timer two hours ahead, ``timers.schedule``);
one ``incremental_sweep`` cycle (the whole export) runs before the window. Then, for ``D``
seconds (300; quick: 30), one public comment per second by the requester of a random open ticket,
written directly into the server's state; the server's triggers send the signed webhook to the
receiver. Sweeps run as in production: the worker's chain every ``DEFAULT_SWEEP_INTERVAL``
(300 s, slot-aligned); quick mode adds a 10 s chain. Counted: ``/api/v2`` requests from the
window's start until every changed ticket has a decision recorded at or after its last change
(``keys.last_decision``, ``checked_at``) and the queue is empty; the bench raises otherwise.

Baseline: the account's limit, 700 calls/min (target: ratio <= 0.5).

Rows: ``api_calls_per_min_at_1_change_per_s`` (calls * 60 / D), ``api_calls_per_change``
(calls / changes), ``api_429_responses`` (429 answers of the server in the same span).
"""
from __future__ import annotations

import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_sweep import _calls, _plan, _seed  # noqa: E402
from bench_throughput import _env, _wait, start_stack  # noqa: E402

LIMIT = 700
COMMENTS = ["Any news on this? I am still waiting.", "Is there an update? We need this fixed.",
            "Thanks, but the problem is still there this morning.", "Can someone please reply?",
            "Following up again: the export still fails for our team."]


def _count(handle, status: int | None = None) -> int:
    return handle.count(path_contains="/api/v2", status=status) if status else _calls(handle)


def _open_ids(handle, n: int, now: datetime) -> list[int]:
    ids = _seed(handle, n, now)
    with handle.state.lock:
        for tid in ids:
            handle.state.tickets[tid]["status"] = "open"
    return ids


def _decided_after(conn, ids: dict[int, datetime]) -> list[int]:
    """Tickets whose last change has no decision recorded at or after it."""
    from tiergate.plugin.core.model import parse_time
    from tiergate.runtime import keys

    raw = conn.mget([keys.last_decision("zendesk", tid) for tid in ids])
    missing = []
    for (tid, changed), value in zip(ids.items(), raw):
        at = json.loads(value).get("checked_at") if value else None
        if at is None or parse_time(at) < changed:
            missing.append(tid)
    return missing


def run(quick: bool) -> list[dict]:
    from redis import Redis
    from rq import Worker

    from tiergate.jobs import sweep, timers
    from tiergate.jobs.queues import queue
    from tiergate.jobs.runtime import build_runtime
    from tiergate.plugin import helpdesks

    n, duration, quick_interval = (500, 30, 10) if quick else (10_000, 300, None)
    rng = random.Random(23)
    redis_server, desk, settings, http, secret, tmp = start_stack("tg-bench-budget-")
    handle = desk.handle
    proc = None
    try:
        helpdesks.install(desk, "zendesk", f"http://127.0.0.1:{http.server_port}", secret)
        handle.set_knobs(rate_limit_per_minute=LIMIT)
        conn = Redis.from_url(settings.redis_url)
        now = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        ids = _open_ids(handle, n, now)
        _plan(conn, settings, ids, now)
        seeded_s = time.perf_counter() - t0
        first = sweep.incremental_sweep(conn, settings, build_runtime(settings).connector, datetime.now(timezone.utc))
        if first["enqueued"]:
            raise AssertionError(f"bench: first sweep enqueued decisions: {first}")
        log = open(os.path.join(tmp, "worker.log"), "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "tiergate.plugin.cli", "worker", "--name", f"bench-{secrets.token_hex(3)}",
             "--log-level", "WARNING"], env=_env(settings, {"TIERGATE_RATE_BUDGET": "off"}), stdout=log, stderr=log)
        log.close()
        _wait(lambda: Worker.all(connection=conn) and conn.keys("rq:scheduler-lock:*"), 120, "worker started", 0.2)
        if quick_interval:
            timers.start_sweeps(conn, settings, quick_interval)
        # a change counts for the sweep once it is later than the plan by more than its grace
        time.sleep(max(0.0, (now + timers.CHANGED_GRACE - datetime.now(timezone.utc)).total_seconds() + 1.5))
        calls0, rate0 = _count(handle), _count(handle, 429)
        with handle.state.lock:
            stats0 = dict(handle.state.stats)
        changed: dict[int, datetime] = {}
        began = time.monotonic()
        for i in range(duration):
            time.sleep(max(0.0, began + i - time.monotonic()))
            tid = rng.choice(ids)
            changed[tid] = datetime.now(timezone.utc).replace(microsecond=0)
            handle.add_comment(tid, rng.choice(COMMENTS))
        ended = time.monotonic()
        window_s = ended - began + 1.0       # the last change's second included
        q = queue(conn, settings)
        _wait(lambda: not _decided_after(conn, changed), 300, f"decisions for {len(changed)} changed tickets", 0.5)
        for _ in range(2):          # the webhooks of the plugin's own writes are processed too
            handle.wait_deliveries(30)
            _wait(lambda: q.count == 0 and not q.started_job_registry.get_job_ids(), 120, "queue drained", 0.2)
        drain_s = time.monotonic() - ended
        calls, r429 = _count(handle) - calls0, _count(handle, 429) - rate0
        by_route: dict[str, int] = {}
        with handle.state.lock:
            stats = dict(handle.state.stats)
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        http.shutdown()
        desk.stop()
        redis_server.stop()
    for (method, rule, status), k in stats.items():
        k -= stats0.get((method, rule, status), 0)
        if "/api/v2" in rule and k:
            by_route[f"{method} {rule}"] = by_route.get(f"{method} {rule}", 0) + k
    per_min = calls * 60 / window_s
    changes = duration
    note = (f"{n} open tickets (seeded+planned {seeded_s:.0f}s), {changes} changes on {len(changed)} tickets "
            f"in {window_s:.0f}s, all decided and drained {drain_s:.1f}s after the last; one worker; sweeps every "
            f"{timers.DEFAULT_SWEEP_INTERVAL}s" + (f" + {quick_interval}s (quick)" if quick_interval else ""))
    print(f"bench_budget: calls by route in the window {json.dumps(by_route)}", file=sys.stderr)
    return [
        {"name": "api_calls_per_min_at_1_change_per_s", "value": round(per_min, 2), "unit": "calls/min",
         "baseline": LIMIT, "ratio": round(per_min / LIMIT, 4), "note": note},
        {"name": "api_calls_per_change", "value": round(calls / changes, 3), "unit": "calls/change",
         "baseline": None, "ratio": None, "note": f"{calls} calls, {changes} changes"},
        {"name": "api_429_responses", "value": r429, "unit": "responses", "baseline": 0, "ratio": None},
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(json.dumps(row))
