"""Chaos run: signed webhooks in, workers and Redis killed, 429s, 5xx and a helpdesk outage
injected; nothing lost, nothing doubled, nothing decided wrong.

``python bench/chaos.py [--webhooks 20000] [--tickets 2000] [--workers 2] [--redis-restarts 2]
[--outage-seconds 180] [--max-seconds 1200] [--json]``

Loopback only, bounded in time. It starts a redis-server with ``--appendonly yes --appendfsync
everysec``, the local Zendesk-compatible server (``tiergate.localdesk.zendesk``), the real receiver
(``plugin.web.create_app`` under waitress, as ``tiergate serve`` runs it: ``plugin.serve.make_server``)
and ``--workers`` real ``tiergate worker`` processes. It seeds ``--tickets`` tickets from
``examples/tickets.jsonl`` (some escalate, some stay calm), then sends ``--webhooks`` signed trigger
webhooks (``X-Zendesk-Webhook-Invocation-Id`` = delivery id; 10% are re-sent duplicates; a 503 or a
refused connection is retried with backoff, as a helpdesk does; accepted = answered 2xx) while a
chaos thread SIGKILLs a worker (and its work-horse) every ``--kill-every`` seconds and restarts it,
flips the server's fault knobs between 429 and 503 (``fail_rate``), SIGKILLs redis-server
``--redis-restarts`` times spread over the sending (down ``--redis-down`` seconds, then restarted
on the same port and append-only file), and makes the helpdesk answer every API call 503 for
``--outage-seconds`` (the retry horizon and the circuit breaker hold the jobs; then it recovers and
everything drains).

Then it checks every ticket against an independent oracle, ``bench/chaos_scenario.json`` (per
template: the tags, final group and number of notes the ticket must end with, written from what
the ticket says; ``bench/chaos_oracle.py``): ``doubled``: a fingerprint written twice or more notes
than expected; ``lost``: an expected escalation left no trace, or an accepted delivery whose job
failed or never finished; ``wrong``: a different group, a required tag missing, a calm ticket
touched. Exit 1 when anything is lost, doubled or wrong (or the time cap was hit before the work
drained). ``run(quick)`` gives ``bench/run.py`` the sustained accepted webhooks/s and p99 ack
latency, each next to the same receiver measured with no workers and no faults.
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from chaos_oracle import judge, load_scenario
from chaos_services import RestartableRedis, WaitressReceiver
from chaos_traffic import (SendStats, chaos_manifest, delivery_plan, fingerprints, percentile, send_all,
                           templates, ticket_from_template)
from chaos_workers import WorkerProc, worker_env

CHAOS_TAIL = 60.0     # seconds of kills and faults after the last webhook, then the backlog drains


# -- the run ------------------------------------------------------------------------------------
def run_chaos(webhooks: int = 20000, tickets: int = 2000, *, workers: int = 2, kill_every: float = 5.0,
              fault_rate: float = 0.03, max_seconds: float = 600.0, seed: int = 7, kills: int | None = None,
              redis_restarts: int = 0, redis_down: float = 2.0, outage_seconds: float = 0.0,
              echo=lambda _line: None) -> dict[str, Any]:
    """The whole chaos run; returns the report (see ``main``)."""
    from redis import Redis, RedisError
    from rq.job import Job
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
    from rq.serializers import JSONSerializer

    from tiergate.localdesk.zendesk import start_server
    from tiergate.runtime import keys
    from tiergate.jobs.queues import queue
    from tiergate.runtime.config import Settings

    started_at = time.monotonic()
    hard_deadline = started_at + max_seconds
    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="tiergate-chaos-"))
    redis_server = RestartableRedis().start()
    desk = start_server(port=0, email="chaos@example.com", token="chaos-token")
    secret = secrets.token_hex(16)
    settings = Settings(redis_url=redis_server.url, helpdesk="zendesk", webhook_secret=secret,
                        manifest_path=chaos_manifest(tmp), db_url=f"sqlite:///{tmp}/log.sqlite",
                        **desk.settings_overrides())
    http = WaitressReceiver(settings)
    url = f"http://127.0.0.1:{http.port}/webhooks/zendesk"
    conn = Redis.from_url(settings.redis_url)
    procs: list[WorkerProc] = []
    stop_chaos = threading.Event()
    chaos_log = Counter()
    try:
        # the expected outcome of each template is data (bench/chaos_scenario.json), not a plugin run
        now = datetime.now(timezone.utc)
        tpls = templates()
        expected = load_scenario([tpl["external_id"] for tpl in tpls])
        ticket_template: dict[int, str] = {}
        for n in range(tickets):
            tpl = tpls[n % len(tpls)]
            tid = desk.import_example(ticket_from_template(tpl, n), now, deliver=False)
            ticket_template[tid] = tpl["external_id"]
        echo(f"seeded {tickets} tickets; {sum(1 for e in expected.values() if e.notes or e.tags)} of "
             f"{len(tpls)} templates escalate")
        env = worker_env(settings)
        procs = [WorkerProc(env, f"chaos-w{i}", str(tmp / f"worker{i}.log")).start() for i in range(workers)]

        stats = SendStats()
        outage = {"until": None, "done": outage_seconds <= 0}

        def chaos() -> None:
            flip = 0
            next_kill = time.monotonic() + kill_every
            while not stop_chaos.wait(1.0):
                flip += 1
                now_ = time.monotonic()
                if not outage["done"] and outage["until"] is None and stats.sent >= webhooks // 4:
                    outage["until"] = now_ + outage_seconds          # the helpdesk goes down
                    chaos_log["outages"] += 1
                    echo(f"helpdesk outage for {outage_seconds:.0f}s")
                if outage["until"] is not None and now_ >= outage["until"]:
                    outage["until"], outage["done"] = None, True
                    echo("helpdesk back")
                if outage["until"] is not None:
                    desk.set_knobs(fail_rate=1.0, fail_status=503)
                else:
                    desk.set_knobs(fail_rate=fault_rate, fail_status=429 if flip % 2 else 503)
                done = chaos_log["redis_restarts"]
                if done < redis_restarts and stats.sent >= webhooks * (done + 1) // (redis_restarts + 1):
                    redis_server.kill()                              # SIGKILL, then the same AOF
                    time.sleep(redis_down)
                    redis_server.start()
                    chaos_log["redis_restarts"] += 1
                    echo(f"redis-server SIGKILLed and restarted ({done + 1}/{redis_restarts})")
                if time.monotonic() >= next_kill and (kills is None or chaos_log["kills"] < kills):
                    victim = rng.choice(procs)
                    victim.kill()
                    chaos_log["kills"] += 1
                    victim.start()
                    next_kill = time.monotonic() + kill_every
            desk.set_knobs(fail_rate=0.0)

        def chaos_pending() -> bool:
            return not outage["done"] or chaos_log["redis_restarts"] < redis_restarts

        chaos_thread = threading.Thread(target=chaos, daemon=True)
        chaos_thread.start()
        plan = delivery_plan(list(ticket_template), webhooks, rng)
        send_started = time.monotonic()
        send_all(url, plan, secret, stats, deadline=hard_deadline - 90)
        send_seconds = time.monotonic() - send_started
        echo(f"sent {stats.sent} in {send_seconds:.1f}s; accepted {stats.accepted}")

        # chaos continues while the backlog drains, at least until a kill happened; then calm
        q = queue(conn, settings)
        started_reg, failed_reg = StartedJobRegistry(queue=q), FailedJobRegistry(queue=q)
        scheduled_reg = ScheduledJobRegistry(queue=q)

        def busy() -> bool:
            # every rescheduled delivery counts (after an outage some wait minutes), timers do not
            try:
                pending_retries = [j for j in conn.zrange(scheduled_reg.key, 0, -1)
                                   if j.startswith((b"tg-retry", b"tg-flush"))]
                return bool(q.count or started_reg.count or pending_retries or q.intermediate_queue.get_job_ids()
                            or conn.hlen(keys.batch_pending("zendesk")) or conn.hlen(keys.batch_inflight("zendesk")))
            except RedisError:           # restarting
                return True

        # chaos goes on while the backlog drains, for at most CHAOS_TAIL seconds after the sending
        send_done = time.monotonic()
        calm_at = send_done + max(0.0, kill_every * 1.5 - (send_done - send_started))
        while time.monotonic() < hard_deadline - 20 and (chaos_pending() or (
                time.monotonic() < send_done + CHAOS_TAIL and (
                    time.monotonic() < calm_at or (busy() and q.count > 50)))):
            time.sleep(0.5)
        stop_chaos.set()
        chaos_thread.join(timeout=10)
        quiet_since = None
        while time.monotonic() < hard_deadline - 30:
            if busy():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 3:
                break
            time.sleep(0.5)
        cap_hit = time.monotonic() >= hard_deadline - 30
        echo(f"drained={not cap_hit} after {time.monotonic() - started_at:.0f}s; checking every ticket")

        # verdict: read the desk's own store (in this process) rather than 2 x M API fetches
        verdicts: Counter = Counter()
        problems: list[str] = []
        for tid, template_id in ticket_template.items():
            with desk.state.lock:
                raw = desk.state.tickets[tid]
                bodies = [c.get("body") or "" for c in desk.state.comments.get(tid, [])
                          if not c.get("public", True) and "[tiergate:" in (c.get("body") or "")]
                tags, group_id = tuple(sorted(raw.get("tags") or ())), raw.get("group_id")
            verdict, detail = judge(expected[template_id], tags, group_id, fingerprints(bodies))
            verdicts[verdict] += 1
            if verdict != "ok":
                problems.append(f"ticket {tid} ({template_id}) {verdict}: {detail}")
        lost, doubled, wrong = verdicts["lost"], verdicts["doubled"], verdicts["wrong"]
        statuses: Counter = Counter()
        retried = 0
        ids = list(stats.job_ids)
        for start in range(0, len(ids), 1000):
            pipe = conn.pipeline(transaction=False)
            for job_id in ids[start:start + 1000]:
                pipe.hmget(f"rq:job:{job_id}", "status", "retries_left")
            for status, retries_left in pipe.execute():
                statuses[status.decode() if status else "missing"] += 1
                if retries_left is not None and int(retries_left) < 3:
                    retried += 1
        lost_jobs = sum(n for st, n in statuses.items() if st != "finished")
        for job_id in ids[:: max(1, len(ids) // 200)]:      # a sample of what the jobs did
            try:
                result = Job.fetch(job_id, connection=conn, serializer=JSONSerializer).return_value() or {}
                statuses["sample:" + str(result.get("status"))] += 1
            except Exception:  # noqa: BLE001
                pass
        failed_reasons = Counter()
        lost_jobs += sum(1 for j in failed_reg.get_job_ids() if j not in stats.job_ids)  # follow-ups
        for job_id in failed_reg.get_job_ids()[:50]:
            job = Job.fetch(job_id, connection=conn, serializer=JSONSerializer)
            res = job.latest_result()
            failed_reasons[(res.exc_string or "").strip().splitlines()[-1][:120] if res and res.exc_string else "unknown"] += 1
        server = desk.stats()
        endpoint = server["by_endpoint"]
        writes = sum(sum(v.values()) for k, v in endpoint.items()
                     if k.startswith(("PUT", "POST", "DELETE")) and "import" not in k and "_control" not in k)
        answered_429 = int(server["by_status"].get("429", 0))
        reschedules = conn.keys("rq:job:tg-retry-*")
        accepted_rate = stats.accepted / send_seconds if send_seconds else 0.0
        report = {
            "webhooks": webhooks, "tickets": tickets, "workers": workers,
            "sent": stats.sent, "accepted": stats.accepted,
            "rejected": dict(stats.rejected), "duplicates_dropped": stats.duplicates,
            "jobs_retried": retried + len(reschedules), "abandoned_reruns": retried,
            "reschedules": len(reschedules), "worker_kills": chaos_log["kills"],
            "redis_restarts": chaos_log["redis_restarts"], "helpdesk_outages": chaos_log["outages"],
            "outage_seconds": outage_seconds,
            "writes": writes, "bulk_writes": sum(endpoint.get("PUT /api/v2/tickets/update_many", {}).values()),
            "single_writes": sum(endpoint.get("PUT /api/v2/tickets/<int:ticket_id>", {}).values()),
            "http_429_honoured": answered_429,
            "lost": lost + lost_jobs, "lost_tickets": lost, "lost_jobs": lost_jobs,
            "doubled": doubled, "wrong": wrong,
            "job_statuses": dict(statuses), "failed_reasons": dict(failed_reasons),
            "accepted_per_second": round(accepted_rate, 1),
            "ack_p50_ms": round(percentile(stats.latencies, 0.50) * 1e3, 2),
            "ack_p99_ms": round(percentile(stats.latencies, 0.99) * 1e3, 2),
            "send_seconds": round(send_seconds, 1),
            "wall_seconds": round(time.monotonic() - started_at, 1), "cap_seconds": max_seconds,
            "cap_hit": cap_hit, "problems": problems[:20],
        }
        return report
    finally:
        stop_chaos.set()
        for p in procs:
            p.stop()
        http.shutdown()
        desk.stop()
        redis_server.stop()


def quiet_receiver(webhooks: int) -> tuple[float, float]:
    """Accepted webhooks/s and p99 ack latency of the same receiver with no workers, no faults."""
    from tiergate.runtime.config import Settings

    redis_server = RestartableRedis().start()
    secret = secrets.token_hex(16)
    http = WaitressReceiver(Settings(redis_url=redis_server.url, webhook_secret=secret))
    try:
        stats = SendStats()
        plan = [(1 + i % 50, f"quiet-{i}") for i in range(webhooks)]
        began = time.monotonic()
        send_all(f"http://127.0.0.1:{http.port}/webhooks/zendesk", plan, secret, stats)
        return stats.accepted / (time.monotonic() - began), percentile(stats.latencies, 0.99) * 1e3
    finally:
        http.shutdown()
        redis_server.stop()


def run(quick: bool) -> list[dict]:
    """For ``bench/run.py``: sustained accepted webhooks/s and p99 ack latency under chaos."""
    webhooks, tickets = (600, 60) if quick else (5000, 500)
    logging.getLogger("tiergate.web").setLevel(logging.ERROR)   # one warning per 503 while Redis is down
    report = run_chaos(webhooks, tickets, max_seconds=240 if quick else 900, redis_restarts=1,
                       outage_seconds=5.0 if quick else 30.0)
    rate, p99 = quiet_receiver(webhooks)
    rows = [
        {"name": "chaos: webhooks accepted per second (workers killed, 429/5xx injected)",
         "value": report["accepted_per_second"], "unit": "webhooks/s", "baseline": round(rate, 1),
         "ratio": round(report["accepted_per_second"] / rate, 3) if rate else None},
        {"name": "chaos: p99 ack latency", "value": report["ack_p99_ms"], "unit": "ms",
         "baseline": round(p99, 2), "ratio": round(report["ack_p99_ms"] / p99, 3) if p99 else None},
        {"name": "chaos: lost + doubled + wrong", "value": report["lost"] + report["doubled"] + report["wrong"],
         "unit": "tickets/jobs",
         "baseline": 0, "ratio": None},
    ]
    return rows


TABLE = [("sent", "sent"), ("accepted", "accepted"), ("rejected", "rejected by reason"),
         ("duplicates_dropped", "duplicates dropped"), ("jobs_retried", "jobs retried"),
         ("abandoned_reruns", "  of which re-runs of killed jobs"), ("worker_kills", "worker kills"),
         ("redis_restarts", "redis-server SIGKILLs + restarts"), ("outage_seconds", "helpdesk outage seconds"),
         ("writes", "writes"), ("bulk_writes", "  update_many calls"), ("single_writes", "  single updates"),
         ("http_429_honoured", "429s honoured"), ("lost", "lost (must be 0)"), ("doubled", "doubled (must be 0)"),
         ("wrong", "wrong vs the oracle (must be 0)"), ("accepted_per_second", "accepted webhooks/s"),
         ("ack_p99_ms", "p99 ack latency ms"), ("wall_seconds", "wall seconds"), ("cap_hit", "time cap hit")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=20000)
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kill-every", type=float, default=5.0, help="seconds between worker kills")
    parser.add_argument("--fault-rate", type=float, default=0.03, help="share of API calls answered 429/503")
    parser.add_argument("--redis-restarts", type=int, default=2, help="redis-server SIGKILLs, each restarted")
    parser.add_argument("--redis-down", type=float, default=2.0, help="seconds Redis stays down per kill")
    parser.add_argument("--outage-seconds", type=float, default=180.0,
                        help="seconds the helpdesk answers every API call 503 (0: none)")
    parser.add_argument("--max-seconds", type=float, default=1200.0, help="wall-time cap")
    parser.add_argument("--json", action="store_true", help="print one JSON object and nothing else")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)     # the receiver's per-request 503 warnings while Redis is down
    echo = (lambda _l: None) if args.json else (lambda line: print(line, file=sys.stderr, flush=True))
    report = run_chaos(args.webhooks, args.tickets, workers=args.workers, kill_every=args.kill_every,
                       fault_rate=args.fault_rate, max_seconds=args.max_seconds,
                       redis_restarts=args.redis_restarts, redis_down=args.redis_down,
                       outage_seconds=args.outage_seconds, echo=echo)
    if args.json:
        print(json.dumps(report))
    else:
        for key, label in TABLE:
            value = report[key]
            if isinstance(value, dict):
                value = ", ".join(f"{k}: {v}" for k, v in sorted(value.items())) or "none"
            print(f"{label:<36} {value}")
        for line in report["problems"]:
            print(f"  ! {line}")
    bad = report["lost"] or report["doubled"] or report["wrong"] or report["cap_hit"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
