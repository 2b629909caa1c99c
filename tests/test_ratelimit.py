"""The shared per-account rate budget, on a real Redis, and its HTTP adapter on a real socket."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tiergate.jobs.ratelimit import PLANS, RateBudget, budgeted_session
from tiergate.plugin.core.errors import RateLimited


def test_bucket_grants_capacity_then_reports_wait(redis_conn):
    budget = RateBudget(redis_conn, "acct", per_minute=60)
    t0 = 1_000_000.0
    assert all(budget.take(now=t0) == 0.0 for _ in range(60))
    assert budget.take(now=t0) == pytest.approx(1.0)
    # one second later exactly one token has come back
    assert budget.take(now=t0 + 1.0) == 0.0
    assert budget.take(now=t0 + 1.0) > 0.0


def test_budget_is_shared_by_every_worker(redis_conn):
    a = RateBudget(redis_conn, "shared", per_minute=10)
    b = RateBudget(redis_conn, "shared", per_minute=10)
    other = RateBudget(redis_conn, "other-account", per_minute=10)
    t0 = 2_000_000.0
    granted = sum(1 for i in range(20) if (a if i % 2 else b).take(now=t0) == 0.0)
    assert granted == 10
    assert other.take(now=t0) == 0.0


@pytest.mark.parametrize("plan, per_minute", sorted(PLANS.items()))
def test_plans(redis_conn, plan, per_minute):
    assert RateBudget.for_plan(redis_conn, plan, plan).capacity == per_minute


def test_unknown_plan_names_the_field(redis_conn):
    with pytest.raises(ValueError, match="plan: unknown 'gold'"):
        RateBudget.for_plan(redis_conn, "a", "gold")


def test_adapter_refuses_over_budget_without_sending(redis_conn):
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        session = budgeted_session(RateBudget(redis_conn, "http", per_minute=3))
        url = f"http://127.0.0.1:{server.server_port}/x"
        for _ in range(3):
            assert session.get(url, timeout=5).status_code == 200
        with pytest.raises(RateLimited) as err:
            session.get(url, timeout=5)
        assert err.value.retry_after > 0.5
        assert len(hits) == 3
    finally:
        server.shutdown()
