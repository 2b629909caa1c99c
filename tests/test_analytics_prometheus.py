"""``runtime/metrics.py``: Prometheus counters and histograms shared through a real Redis."""
from __future__ import annotations

import subprocess
import sys

import pytest
import redis
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from tiergate.runtime import metrics as pm
from tiergate.plugin.embedded import free_port


def samples(body: bytes) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_counters_render_in_prometheus_format(redis_conn):
    m = pm.Metrics(redis_conn)
    m.inc("tiergate_webhooks_received_total", {"helpdesk": "zendesk"})
    m.inc("tiergate_webhooks_received_total", {"helpdesk": "zendesk"}, 2)
    m.inc("tiergate_webhooks_received_total", {"helpdesk": "zammad"})
    m.inc("tiergate_webhooks_rejected_total", {"reason": "bad_signature"})
    m.inc("tiergate_jobs_total", {"kind": "process", "outcome": "applied"})
    m.inc("tiergate_decisions_total", {"trigger": 'legal "threat"'})
    m.inc("tiergate_writeback_errors_total", {"kind": "conflict"})
    m.inc("tiergate_ratelimit_waits_total")
    m.inc("tiergate_duplicates_dropped_total", {}, 4)
    got = samples(m.render())
    assert got[("tiergate_webhooks_received_total", (("helpdesk", "zendesk"),))] == 3
    assert got[("tiergate_webhooks_received_total", (("helpdesk", "zammad"),))] == 1
    assert got[("tiergate_webhooks_rejected_total", (("reason", "bad_signature"),))] == 1
    assert got[("tiergate_jobs_total", (("kind", "process"), ("outcome", "applied")))] == 1
    assert got[("tiergate_decisions_total", (("trigger", 'legal "threat"'),))] == 1
    assert got[("tiergate_writeback_errors_total", (("kind", "conflict"),))] == 1
    assert got[("tiergate_ratelimit_waits_total", ())] == 1
    assert got[("tiergate_duplicates_dropped_total", ())] == 4
    text = m.render().decode()
    assert "# TYPE tiergate_jobs_total counter" in text
    assert "# TYPE tiergate_timer_lag_seconds histogram" in text


def test_timer_lag_histogram(redis_conn):
    m = pm.Metrics(redis_conn)
    for v in (0.05, 0.5, 3, 3, 700):
        m.observe("tiergate_timer_lag_seconds", v)
    got = samples(m.render())
    bucket = lambda le: got[("tiergate_timer_lag_seconds_bucket", (("le", le),))]  # noqa: E731
    assert (bucket("0.1"), bucket("0.5"), bucket("1.0"), bucket("5.0"), bucket("600.0"), bucket("+Inf")) == (
        1, 2, 2, 4, 4, 5)
    assert got[("tiergate_timer_lag_seconds_count", ())] == 5
    assert got[("tiergate_timer_lag_seconds_sum", ())] == pytest.approx(706.55)


def test_empty_registry_renders(redis_conn):
    got = samples(pm.Metrics(redis_conn).render())
    assert got[("tiergate_ratelimit_waits_total", ())] == 0
    assert got[("tiergate_timer_lag_seconds_count", ())] == 0


def test_counts_from_another_process_are_shared(redis_conn, redis_url):
    code = ("import redis; from tiergate.runtime.metrics import Metrics; "
            f"m = Metrics(redis.Redis.from_url({redis_url!r})); "
            "[m.inc('tiergate_jobs_total', {'kind': 'process', 'outcome': 'applied'}) for _ in range(5)]")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    pm.Metrics(redis_conn).inc("tiergate_jobs_total", {"kind": "process", "outcome": "applied"})
    other = pm.Metrics(redis.Redis.from_url(redis_url))
    assert samples(other.render())[("tiergate_jobs_total", (("kind", "process"), ("outcome", "applied")))] == 6


def test_one_redis_command_per_inc(redis_conn):
    m = pm.Metrics(redis_conn)
    redis_conn.config_resetstat()
    m.inc("tiergate_decisions_total", {"trigger": "x"})
    stats = redis_conn.info("commandstats")
    assert stats["cmdstat_hincrbyfloat"]["calls"] == 1
    assert {k for k in stats if not k.startswith(("cmdstat_config", "cmdstat_info"))} == {"cmdstat_hincrbyfloat"}


@pytest.mark.parametrize("call, message", [
    (lambda m: m.inc("tiergate_nope_total"), "unknown 'tiergate_nope_total'"),
    (lambda m: m.inc("tiergate_jobs_total", {"kind": "x"}), "labels must be ['kind', 'outcome']"),
    (lambda m: m.inc("tiergate_ratelimit_waits_total", {"x": "y"}), "labels must be []"),
    (lambda m: m.inc("tiergate_ratelimit_waits_total", {}, -1), "only goes up"),
    (lambda m: m.observe("tiergate_jobs_total", 1), "is a counter, not a histogram"),
    (lambda m: m.inc("tiergate_timer_lag_seconds"), "is a histogram, not a counter"),
])
def test_bad_calls_name_the_problem(redis_conn, call, message):
    with pytest.raises(ValueError) as err:
        call(pm.Metrics(redis_conn))
    assert message in str(err.value)


def test_metrics_endpoint(redis_conn, redis_url):
    app = Flask("metrics-test")
    app.config["TIERGATE_REDIS_URL"] = redis_url
    pm.init_app(app)
    pm.Metrics(redis_conn).inc("tiergate_webhooks_received_total", {"helpdesk": "zendesk"}, 7)
    r = app.test_client().get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert samples(r.data)[("tiergate_webhooks_received_total", (("helpdesk", "zendesk"),))] == 7


def test_metrics_endpoint_without_redis_is_503():
    app = Flask("metrics-down")
    dead = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5)
    pm.init_app(app, lambda: dead)
    r = app.test_client().get("/metrics")
    assert r.status_code == 503 and b"unavailable" in r.data
