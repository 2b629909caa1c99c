"""Idle connections must not block webhooks: ``tiergate serve`` (waitress) holds 1,000 idle TCP
connections (and some half-sent requests) open while signed webhooks keep being answered.

Run with ``-s`` to see the measured latencies (no timing assertion; each request has a 5 s
timeout, which a blocked server misses)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from test_web_support import event_body, signed
from tiergate.plugin.embedded import free_port

SECRET = "idle-secret-0123456789abcdef"
IDLE = int(os.environ.get("TG_IDLE_SOCKETS", "1000"))
RATE = 200          # webhooks per second offered
SECONDS = 5


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIERGATE_", "ZENDESK_", "REDIS_URL"))}
    env.update(extra)
    return env


def _wait_up(proc, port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return
        except requests.ConnectionError:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.1)


def test_thousand_idle_connections_do_not_block_signed_webhooks(redis_url, redis_conn):
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < IDLE + 512:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, IDLE + 1024), hard))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tiergate.plugin.cli", "serve", "--port", str(port), "--threads", "8",
         "--log-level", "WARNING"],
        env=_env(REDIS_URL=redis_url, TIERGATE_WEBHOOK_SECRET=SECRET),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    idle: list[socket.socket] = []
    try:
        _wait_up(proc, port)
        for n in range(IDLE):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if n % 10 == 0:
                s.sendall(b"POST /webhooks/zendesk HTTP/1.1\r\nHost: x\r\n")  # never finished
            idle.append(s)
        # held open, not still queued for accept: a request behind them is answered
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)

        sessions = threading.local()

        def post(n: int) -> float:
            http = getattr(sessions, "http", None) or requests.Session()   # keep-alive per client
            sessions.http = http
            raw, headers = signed(event_body(ticket_id=1000 + n), secret=SECRET)
            started = time.perf_counter()
            response = http.post(f"http://127.0.0.1:{port}/webhooks/zendesk", data=raw,
                                 headers=headers, timeout=5)
            took = time.perf_counter() - started
            assert response.status_code == 202, response.text
            return took

        latencies = []
        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = []
            start = time.perf_counter()
            for n in range(RATE * SECONDS):
                delay = start + n / RATE - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(post, n))
            latencies = sorted(f.result() for f in futures)
        p50 = latencies[len(latencies) // 2] * 1e3
        p99 = latencies[int(len(latencies) * 0.99) - 1] * 1e3
        print(f"\nidle={len(idle)} webhooks={len(latencies)} offered={RATE}/s p50={p50:.1f}ms p99={p99:.1f}ms")
        # the idle sockets are still open (not dropped to make room)
        alive = 0
        for s in idle[:50]:
            s.setblocking(False)
            try:
                alive += s.recv(1) != b""
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
        assert alive == min(50, IDLE)
    finally:
        for s in idle:
            s.close()
        proc.terminate()
        proc.communicate(timeout=10)
