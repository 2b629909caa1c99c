"""Receiver ack latency and throughput under signed webhooks, next to a bare Flask route.

Both apps run under the waitress server ``tiergate serve`` builds (``plugin.serve.make_server``:
same threads, timeouts, poll loop) in a child process on loopback, against a Redis with
``appendonly yes`` + ``appendfsync everysec``. 16 client threads with keep-alive sessions send
signed Zendesk deliveries (unique event ids, bodies signed before the clock starts):
- a burst (each client sends its next delivery as soon as the previous one is answered): ack
  p50/p99 and accepted webhooks/second of the receiver (verify + parse + Redis dedupe + RQ enqueue)
  against the bare route (reads the body, answers 202 JSON);
- an offered rate of 500 requests/second spread over the 16 clients: ack p99 measured from each
  request's scheduled send time (a late start counts as latency), receiver against bare route;
- the burst again with ``appendfsync always`` (what "a 2xx means fsynced" costs).
Everything it starts (Redis, servers) it stops; bounded by request counts and timeouts.

    python bench/bench_receiver.py [--quick] [--json]
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone

from tiergate.plugin.embedded import stop_process

SECRET = "bench-secret-0123456789"
SERVER_THREADS = 8
CLIENTS = 16
OFFERED_RATE = 500.0   # requests/second, all clients together


# -- the child process: one app under waitress ---------------------------------------------------
def _bare_app():
    from flask import Flask, jsonify, request

    app = Flask("bare")

    @app.post("/webhooks/zendesk")
    def bare():
        request.get_data()
        response = jsonify({"status": "queued", "job_id": "bare"})
        response.status_code = 202
        return response

    return app


def _serve(kind: str, port: int, redis_url: str) -> None:
    import logging

    from tiergate.plugin.serve import make_server
    from tiergate.runtime.config import Settings

    logging.basicConfig(level=logging.WARNING)
    settings = Settings(redis_url=redis_url, webhook_secret=SECRET)
    if kind == "bare":
        app = _bare_app()
    else:
        from tiergate.plugin.web import create_app

        app = create_app(settings)
    server, _limit = make_server(app, settings, host="127.0.0.1", port=port, threads=SERVER_THREADS)
    print("ready", flush=True)
    server.run()


# -- the parent: start, burst, measure ------------------------------------------------------------
class Child:
    def __init__(self, kind: str, redis_url: str):
        from tiergate.plugin.embedded import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/webhooks/zendesk"
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", kind, "--port", str(self.port),
             "--redis-url", redis_url],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError(f"bench server {kind} did not start")

    def stop(self) -> None:
        stop_process(self.proc, timeout=5)


_NEXT_TICKET = itertools.count(1000)


def _deliveries(count: int) -> list[tuple[bytes, dict[str, str]]]:
    """Signed deliveries for ``count`` tickets not used before in this process (no coalescing)."""
    from tiergate.connectors.zendesk_webhook import format_timestamp, signed_headers

    stamp = format_timestamp(datetime.now(timezone.utc))
    out = []
    for _ in range(count):
        i = next(_NEXT_TICKET) - 1000
        body = json.dumps({
            "type": "zen:event-type:ticket.comment_added", "account_id": 1, "id": str(uuid.uuid4()),
            "time": stamp, "zendesk_event_version": "2022-11-06", "subject": f"zen:ticket:{1000 + i}",
            "detail": {"id": str(1000 + i), "status": "OPEN", "priority": "HIGH", "tags": ["vip"],
                       "subject": "Checkout is down for all our stores", "via": {"channel": "email"}},
            "event": {"comment": {"body": "We are losing money every minute. " * 8}},
        }).encode()
        out.append((body, {**signed_headers(body, SECRET, stamp), "Content-Type": "application/json",
                           "User-Agent": "Zendesk Webhook"}))
    return out


def _burst(url: str, deliveries, clients: int, rate: float | None = None) -> dict:
    """Send ``deliveries`` from ``clients`` threads: back to back, or at ``rate`` requests/second
    in all (client ``c`` sends its ``k``-th at ``(k * clients + c) / rate`` seconds; latency counts
    from that scheduled moment)."""
    import requests

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    parts = [deliveries[i::clients] for i in range(clients)]
    start_gate = threading.Barrier(clients + 1)

    def client(c, part):
        mine, codes = [], {}
        with requests.Session() as session:
            session.post(url, data=b"{}", headers={"Content-Type": "application/json"}, timeout=10)  # connect
            start_gate.wait()
            began = time.perf_counter()
            for k, (body, headers) in enumerate(part):
                t0 = time.perf_counter()
                if rate:
                    due = began + (k * clients + c) / rate
                    if due > t0:
                        time.sleep(due - t0)
                    t0 = due
                response = session.post(url, data=body, headers=headers, timeout=10)
                mine.append(time.perf_counter() - t0)
                codes[response.status_code] = codes.get(response.status_code, 0) + 1
        with lock:
            latencies.extend(mine)
            for code, n in codes.items():
                statuses[code] = statuses.get(code, 0) + n

    threads = [threading.Thread(target=client, args=(c, part)) for c, part in enumerate(parts)]
    for t in threads:
        t.start()
    start_gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join(timeout=300)
    elapsed = time.perf_counter() - t0
    latencies.sort()
    return {"p50": latencies[len(latencies) // 2] * 1e3,
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e3,
            "mean": statistics.fmean(latencies) * 1e3, "rate": len(latencies) / elapsed,
            "statuses": statuses, "count": len(latencies)}


def _measure(kind: str, redis_url: str, count: int, rated: int) -> tuple[dict, dict]:
    """(burst, offered-rate run) against one child server."""
    child = Child(kind, redis_url)
    try:
        _burst(child.url, _deliveries(min(200, count)), CLIENTS)  # warm-up: imports, pools, caches
        burst = _burst(child.url, _deliveries(count), CLIENTS)
        paced = _burst(child.url, _deliveries(rated), CLIENTS, OFFERED_RATE)
        return burst, paced
    finally:
        child.stop()


def _receiver(redis_fsync: str, count: int, rated: int) -> tuple[dict, dict]:
    import redis

    from tiergate.jobs.queues import queue
    from tiergate.runtime.config import Settings
    from tiergate.plugin.embedded import start_redis

    server = start_redis(appendonly=True)
    try:
        conn = redis.Redis.from_url(server.url)
        conn.config_set("appendfsync", redis_fsync)
        burst, paced = _measure("receiver", server.url, count, rated)
        queued = queue(conn, Settings(redis_url=server.url)).count
        conn.close()
    finally:
        server.stop()
    for got in (burst, paced):
        if got["statuses"] != {202: got["count"]}:
            raise RuntimeError(f"receiver did not accept every delivery: {got['statuses']}")
    if queued < count + rated:  # the warm-up's jobs are queued too
        raise RuntimeError(f"accepted {count + rated} but only {queued} jobs are queued")
    return burst, paced


def run(quick: bool = False) -> list[dict]:
    count, rated = (800, 1000) if quick else (4000, 5000)
    bare, bare_paced = _measure("bare", "redis://127.0.0.1:1/0", count, rated)
    rows = []
    for fsync in ("everysec", "always"):
        got, paced = _receiver(fsync, count, rated)
        # baseline of every row: the bare Flask route under the same server, clients and load
        tag = f"{count} webhooks x{CLIENTS} clients, AOF {fsync}"
        rows += [
            {"name": f"receiver ack p50, {tag}", "value": got["p50"],
             "unit": "ms", "baseline": bare["p50"], "ratio": got["p50"] / bare["p50"]},
            {"name": f"receiver ack p99, {tag}", "value": got["p99"],
             "unit": "ms", "baseline": bare["p99"], "ratio": got["p99"] / bare["p99"]},
            {"name": f"accepted webhooks/s, {tag}", "value": got["rate"],
             "unit": "req/s", "baseline": bare["rate"], "ratio": got["rate"] / bare["rate"]},
        ]
        if fsync == "everysec":
            rows.append({"name": f"receiver ack p99 at {OFFERED_RATE:g} req/s offered, {rated} webhooks "
                                 f"x{CLIENTS} clients, AOF {fsync}",
                         "value": paced["p99"], "unit": "ms", "baseline": bare_paced["p99"],
                         "ratio": paced["p99"] / bare_paced["p99"]})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve", choices=["receiver", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(args.serve, args.port, args.redis_url)
        return 0
    rows = run(quick=args.quick)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['name'][:80]:80} {r['value']:>9.3g} {r['unit']:5} base {r['baseline']:>9.3g}  x{r['ratio']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
