"""Prometheus metrics shared by every web and worker process through Redis.

Counters and histograms live in Redis hashes, so the receiver's ``GET /metrics`` shows what the
workers counted too. ``Metrics(conn).inc(name, labels)`` is one Redis round trip (one
``HINCRBYFLOAT``); ``observe`` is one pipelined round trip. A custom ``prometheus_client``
Collector reads the hashes at scrape time and renders the standard text format.

Storage: ``<prefix>:c:<name>`` hash {label JSON: value}; ``<prefix>:h:<name>`` hash with
``b:<index>`` (non-cumulative bucket counts, made cumulative at render), ``sum`` and ``count``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

from flask import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from redis import Redis

from tiergate.runtime import keys
from tiergate.runtime.config import Settings
from tiergate.runtime.redis_conn import connect

PREFIX = keys.METRICS_PREFIX
# generate_latest() writes the classic text format, whatever CONTENT_TYPE_LATEST says in new clients.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TIMER_LAG_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


@dataclass(frozen=True)
class Spec:
    name: str
    kind: str                        # counter | histogram
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


SPECS: dict[str, Spec] = {s.name: s for s in (
    Spec("tiergate_webhooks_received_total", "counter", "Webhook deliveries accepted, by helpdesk.", ("helpdesk",)),
    Spec("tiergate_webhooks_rejected_total", "counter", "Webhook deliveries rejected, by reason.", ("reason",)),
    Spec("tiergate_jobs_total", "counter", "Jobs finished, by kind and outcome.", ("kind", "outcome")),
    Spec("tiergate_decisions_total", "counter", "Triggers fired by decisions, by trigger.", ("trigger",)),
    Spec("tiergate_writeback_errors_total", "counter", "Helpdesk write-back errors, by kind.", ("kind",)),
    Spec("tiergate_ratelimit_waits_total", "counter", "Jobs rescheduled because of the helpdesk's rate limit."),
    Spec("tiergate_duplicates_dropped_total", "counter", "Duplicate webhook deliveries dropped."),
    Spec("tiergate_timer_lag_seconds", "histogram", "Delay between a timer's due time and its job running.",
         buckets=TIMER_LAG_BUCKETS),
)}


def _strip_total(name: str) -> str:
    # prometheus_client's CounterMetricFamily appends "_total" itself.
    return name[:-6] if name.endswith("_total") else name


def _label_key(spec: Spec, labels: Mapping[str, Any] | None) -> str:
    labels = dict(labels or {})
    if set(labels) != set(spec.labels):
        raise ValueError(f"{spec.name}: labels must be {list(spec.labels)}, got {sorted(labels)}")
    return json.dumps([str(labels[k]) for k in spec.labels], separators=(",", ":"))


class Metrics:
    """``Metrics(redis_conn)``: ``inc``, ``observe``, ``render``."""

    def __init__(self, conn, prefix: str = PREFIX, specs: Mapping[str, Spec] = SPECS):
        self.conn = conn
        self.prefix = prefix
        self.specs = dict(specs)

    def _spec(self, name: str, kind: str) -> Spec:
        spec = self.specs.get(name)
        if spec is None:
            raise ValueError(f"metric: unknown {name!r}; known: {', '.join(sorted(self.specs))}")
        if spec.kind != kind:
            raise ValueError(f"metric: {name} is a {spec.kind}, not a {kind}")
        return spec

    def inc(self, name: str, labels: Mapping[str, Any] | None = None, amount: float = 1) -> None:
        """Add ``amount`` (>= 0) to a counter: one Redis command."""
        spec = self._spec(name, "counter")
        if amount < 0:
            raise ValueError(f"{name}: a counter only goes up (amount {amount})")
        self.conn.hincrbyfloat(f"{self.prefix}:c:{name}", _label_key(spec, labels), float(amount))

    def observe(self, name: str, value: float) -> None:
        """Record one observation in a histogram: one pipelined round trip."""
        spec = self._spec(name, "histogram")
        value = float(value)
        index = next((i for i, b in enumerate(spec.buckets) if value <= b), len(spec.buckets))
        key = f"{self.prefix}:h:{name}"
        pipe = self.conn.pipeline(transaction=False)
        pipe.hincrbyfloat(key, f"b:{index}", 1)
        pipe.hincrbyfloat(key, "sum", value)
        pipe.hincrbyfloat(key, "count", 1)
        pipe.execute()

    def collector(self) -> "RedisCollector":
        return RedisCollector(self)

    def registry(self) -> CollectorRegistry:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self.collector())
        return registry

    def render(self) -> bytes:
        """Every metric in the Prometheus text exposition format."""
        return generate_latest(self.registry())


class RedisCollector(Collector):
    """Reads the shared hashes at scrape time (one pipelined round trip for all metrics)."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def collect(self) -> Iterator[Any]:
        m = self.metrics
        specs = list(m.specs.values())
        pipe = m.conn.pipeline(transaction=False)
        for spec in specs:
            pipe.hgetall(f"{m.prefix}:{'c' if spec.kind == 'counter' else 'h'}:{spec.name}")
        for spec, raw in zip(specs, pipe.execute()):
            data = {(k.decode() if isinstance(k, bytes) else k): float(v) for k, v in raw.items()}
            if spec.kind == "counter":
                family = CounterMetricFamily(_strip_total(spec.name), spec.help, labels=list(spec.labels))
                if not spec.labels:
                    family.add_metric([], data.get(_label_key(spec, {}), 0.0))
                for key, value in sorted(data.items()):
                    values = json.loads(key)
                    if spec.labels and len(values) == len(spec.labels):
                        family.add_metric(values, value)
                yield family
            else:
                cumulative, buckets = 0.0, []
                for i, bound in enumerate(spec.buckets + (float("inf"),)):
                    cumulative += data.get(f"b:{i}", 0.0)
                    buckets.append(("+Inf" if bound == float("inf") else repr(float(bound)), cumulative))
                family = HistogramMetricFamily(spec.name, spec.help, labels=[])
                family.add_metric([], buckets, sum_value=data.get("sum", 0.0))
                yield family


def init_app(app, conn_factory: Callable[[], Any] | None = None, *, prefix: str = PREFIX) -> None:
    """Add ``GET /metrics`` to a Flask app. ``conn_factory()`` returns a Redis connection;
    default: ``tiergate.runtime.redis_conn.connect(app.config["TIERGATE_SETTINGS"])`` (Sentinel
    when configured), else ``Redis.from_url(app.config["TIERGATE_REDIS_URL"])``, else the environment's."""
    if conn_factory is None:
        settings = app.config.get("TIERGATE_SETTINGS")
        url = app.config.get("TIERGATE_REDIS_URL")
        if settings is None and url:
            shared = Redis.from_url(url)
        else:
            shared = connect(settings if settings is not None else Settings.from_env())
        conn_factory = lambda: shared  # noqa: E731

    def metrics_view():
        try:
            body = Metrics(conn_factory(), prefix=prefix).render()
        except Exception as exc:  # Redis down: say so, in the scrape's own format
            return Response(f"# tiergate metrics unavailable: {type(exc).__name__}\n", status=503,
                            mimetype="text/plain")
        return Response(body, headers={"Content-Type": CONTENT_TYPE})

    app.add_url_rule("/metrics", "tiergate_metrics", metrics_view, methods=["GET"])
