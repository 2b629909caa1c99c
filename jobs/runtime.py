"""What a worker process builds once and reuses for every job: Redis, connector, manifest store,
enricher per manifest version, decision log, metrics. Built in the worker's parent process so
forked job processes inherit the loaded spaCy pipeline."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from redis import Redis

from tiergate.connectors.registry import get_connector
from tiergate.jobs.ratelimit import attach_budget, budget_wanted, manifest_budget
from tiergate.nlp.enrich import Enricher
from tiergate.plugin.analytics.log import DecisionLog
from tiergate.runtime.config import Settings
from tiergate.runtime.manifest_store import ManifestStore
from tiergate.runtime.metrics import Metrics
from tiergate.runtime.redis_conn import connect

log = logging.getLogger("tiergate.jobs")


@dataclass
class Runtime:
    settings: Settings
    conn: Redis
    connector: Any
    manifests: Any
    decision_log: Any = None
    metrics: Any = None

    def manifest(self):
        return self.manifests.current()

    def enricher(self, manifest):
        return enricher_for(manifest)

    def count(self, name: str, labels: dict[str, str] | None = None, amount: float = 1) -> None:
        if self.metrics is not None:
            try:
                self.metrics.inc(name, labels or {}, amount)
            except Exception:  # metrics must never break a job
                log.warning("metrics increment failed name=%s", name)


_ENRICHERS: dict[str, Any] = {}


def enricher_for(manifest):
    """The spaCy pipeline for a manifest version, built once per process (the costly part)."""
    found = _ENRICHERS.get(manifest.version)
    if found is None:
        _ENRICHERS.clear()
        found = _ENRICHERS[manifest.version] = Enricher.from_manifest(manifest)
    return found


def build_runtime(settings: Settings) -> Runtime:
    conn = connect(settings)       # through Sentinel when configured
    runtime = Runtime(settings=settings, conn=conn, connector=get_connector(settings.connection()),
                      manifests=ManifestStore.from_settings(settings, conn))
    # one API budget per helpdesk account, shared by every worker through Redis (jobs/ratelimit.py)

    if budget_wanted(settings):
        attach_budget(runtime.connector, manifest_budget(conn, settings, runtime.manifests))
    try:
        runtime.decision_log = DecisionLog.from_settings(settings)
    except ImportError:
        runtime.decision_log = None
    try:
        runtime.metrics = Metrics(conn)
    except ImportError:
        runtime.metrics = None
    return runtime


_RUNTIME: Runtime | None = None


def get_runtime() -> Runtime:
    """The process's runtime, built from the environment on first use."""
    global _RUNTIME
    if _RUNTIME is None:
        _RUNTIME = build_runtime(Settings.from_env())
    return _RUNTIME


def set_runtime(runtime: Runtime | None) -> None:
    global _RUNTIME
    _RUNTIME = runtime
