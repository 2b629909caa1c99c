"""End to end throughput: signed webhook -> receiver -> queue -> ``tiergate worker`` (spaCy,
decide, write-back) against the bare vendor loop, same local Zendesk-compatible server, same run.

Setup: a private Redis, the local server with tiergate installed (its webhook and trigger), the
receiver on a real socket, ``tiergate worker`` subprocesses (the default: no fork per job, batches
of waiting deliveries). Workers start first and are suspended (RQ ``suspend``) while the server
delivers one signed webhook per imported example ticket; then they are resumed and the clock runs
from the first job's start until every ticket has its decision recorded.

Baseline (same run, same server, same kind of tickets): one Python loop doing, per ticket,
``connector.fetch_ticket`` + ``connector.apply`` of a one-tag update (the vendor's per-ticket
read and write, nothing else: no queue, no NLP, no decision).

Rows: ``end_to_end`` (one worker, tickets/s; ratio = / bare loop), ``end_to_end_scaling``
(``W`` workers / one worker), ``worker_rss_mb`` (peak resident memory of a worker process).

The local server answers in well under a millisecond and shares the machine's cores with the
workers, the receiver and Redis, so ``end_to_end_scaling`` is bound by the core count (the row
says how many). A hosted desk answers each call after a network round trip, during which a worker
waits and uses no CPU: ``end_to_end_scaling_rtt`` repeats the two rounds with the local server's
``latency_ms`` knob at ``RTT_MS`` on every API call, which is the condition workers are added for.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RTT_MS = 50


def _examples() -> list[dict]:
    return [json.loads(line) for line in (ROOT / "examples" / "tickets.jsonl").read_text().splitlines() if line]


def _env(settings, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENPY_", "ZENDESK_", "TIERGATE_"))}
    for name, var in type(settings).ENV.items():
        value = getattr(settings, name)
        if value is not None:
            env[var] = str(value)
    env.update(extra)
    return env


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _wait(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"bench: {what} not reached within {timeout:g}s")


def _bare(desk, connector, examples: list[dict], n: int) -> float:
    from tiergate.plugin.core.model import TicketUpdate

    now = datetime.now(timezone.utc)
    ids = [desk.handle.import_example(examples[i % len(examples)], now, deliver=False) for i in range(n)]
    began = time.perf_counter()
    for tid in ids:
        ticket = connector.fetch_ticket(tid)
        connector.apply(tid, TicketUpdate(add_tags=("bare_loop",)), expected_updated_at=ticket.updated_at,
                        delivery_id="bare")
    return n / (time.perf_counter() - began)


def _round(stack: dict, examples: list[dict], n: int, workers: int, tmp: str) -> dict:
    """``workers`` fresh worker processes drain ``n`` webhook deliveries; tickets/s and RSS."""
    from redis import Redis
    from rq import Worker
    from rq.job import Job
    from rq.serializers import JSONSerializer
    from rq.suspension import resume, suspend

    from tiergate.runtime import keys
    from tiergate.jobs.queues import queue

    settings, desk = stack["settings"], stack["desk"]
    conn = Redis.from_url(settings.redis_url)
    q = queue(conn, settings)
    suspend(conn)
    procs = []
    try:
        for w in range(workers):
            log = open(os.path.join(tmp, f"worker-{workers}-{w}.log"), "ab")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "tiergate.plugin.cli", "worker", "--name", f"bench-{secrets.token_hex(3)}",
                 "--log-level", "WARNING"], env=_env(settings, stack["env"]), stdout=log, stderr=log))
            log.close()
        _wait(lambda: len(Worker.all(connection=conn)) >= workers, 120, "workers registered", 0.2)
        now = datetime.now(timezone.utc)
        before = set(q.job_ids)
        ids = [desk.import_example(examples[i % len(examples)], now) for i in range(n)]
        _wait(lambda: len(set(q.job_ids) - before) >= n, 120, f"{n} deliveries queued", 0.1)
        job_ids = list(set(q.job_ids) - before)
        released = time.time()
        resume(conn)
        keys = [keys.last_decision("zendesk", tid) for tid in ids]
        _wait(lambda: conn.exists(*keys) == len(keys), 600, "every ticket decided", 0.02)
        done = time.time()
        jobs = [j for j in Job.fetch_many(job_ids, connection=conn, serializer=JSONSerializer) if j]
        started = [j.started_at.timestamp() for j in jobs if j.started_at]
        began = min(started) if started else released    # pooled: jobs decided by a peer never start
        statuses: dict[str, int] = {}
        for j in jobs:
            statuses[str(j.get_status())] = statuses.get(str(j.get_status()), 0) + 1
        rss = max(_rss_mb(p.pid) for p in procs)
    finally:
        resume(conn)
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
    return {"rate": n / max(1e-6, done - began), "rss_mb": rss, "statuses": statuses}


def start_stack(prefix: str) -> tuple:
    """A private Redis, the local Zendesk-compatible server and the receiver on a real socket:
    (redis server, desk, settings, http server, webhook secret, temporary folder)."""
    from tiergate.plugin import helpdesks
    from tiergate.plugin.embedded import serve_wsgi, start_redis
    from tiergate.plugin.web import create_app
    from tiergate.runtime.config import Settings

    redis_server = start_redis()
    desk = helpdesks.LocalZendesk.start()
    tmp = tempfile.mkdtemp(prefix=prefix)
    secret = secrets.token_hex(16)
    settings = Settings.from_env({}, redis_url=redis_server.url, helpdesk="zendesk", webhook_secret=secret,
                                 admin_token="bench-admin", db_url=f"sqlite:///{tmp}/log.sqlite",
                                 **desk.settings_overrides())
    return redis_server, desk, settings, serve_wsgi(create_app(settings)), secret, tmp


def run(quick: bool) -> list[dict]:
    from tiergate.jobs.runtime import build_runtime
    from tiergate.plugin import helpdesks

    n, many = (60, 2) if quick else (400, 4)
    examples = _examples()
    redis_server, desk, settings, http, secret, tmp = start_stack("tg-bench-e2e-")
    try:
        helpdesks.install(desk, "zendesk", f"http://127.0.0.1:{http.server_port}", secret)
        bare = _bare(desk, build_runtime(settings).connector, examples, n)
        stack = {"settings": settings, "desk": desk, "env": {"TIERGATE_RATE_BUDGET": "off"}}
        one = _round(stack, examples, n, 1, tmp)
        several = _round(stack, examples, n * many, many, tmp)
        desk.handle.set_knobs(latency_ms=RTT_MS)
        one_rtt = _round(stack, examples, n, 1, tmp)
        several_rtt = _round(stack, examples, n * many, many, tmp)
    finally:
        http.shutdown()
        desk.stop()
        redis_server.stop()
    return [
        {"name": "end_to_end", "value": round(one["rate"], 2), "unit": "tickets/s/worker",
         "baseline": round(bare, 2), "ratio": round(one["rate"] / bare, 3)},
        {"name": "end_to_end_scaling", "value": round(several["rate"], 2),
         "unit": f"tickets/s, {many} workers, {os.cpu_count()} cores",
         "baseline": round(one["rate"], 2), "ratio": round(several["rate"] / one["rate"], 3)},
        {"name": "end_to_end_scaling_rtt", "value": round(several_rtt["rate"], 2),
         "unit": f"tickets/s, {many} workers, desk round trip {RTT_MS} ms",
         "baseline": round(one_rtt["rate"], 2), "ratio": round(several_rtt["rate"] / one_rtt["rate"], 3)},
        {"name": "worker_rss_mb", "value": round(max(r["rss_mb"] for r in (one, several, one_rtt, several_rtt)), 1), "unit": "MB",
         "baseline": None, "ratio": None},
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(json.dumps(row))
