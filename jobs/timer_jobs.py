"""The RQ entry points of timers and sweeps: a due timer wakes the decision, a sweep job runs one sweep.

``timer_due`` checks the time itself (clock skew, early runs): a little early it sleeps the rest,
more than ``timers.EARLY_SLEEP_MAX`` early it re-schedules itself; a timer whose instant is no
longer the planned one is stale. ``sweep_job`` runs the incremental sweep (``jobs.sweep``), or
the full walk (``timers.sweep``) when its payload says ``full``, then schedules the next one.
"""
from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone
from typing import Any

from tiergate.runtime import keys
from tiergate.jobs.failed import final_on_error
from tiergate.jobs.outcome import Outcome
from tiergate.jobs.process import process_ticket
from tiergate.jobs.queues import abandon_retry
from tiergate.jobs.runtime import get_runtime
from tiergate.jobs.sweep import incremental_sweep
from tiergate.plugin.core.errors import RateLimited, Unavailable
from tiergate.jobs.timers import (DEFAULT_SWEEP_INTERVAL, EARLY_SLEEP_MAX, LAG_KEEP, TIMER_FUNC, _now_us,
                                  _queue, _run_at, start_sweeps, sweep, timer_job_id)

log = logging.getLogger("tiergate.jobs.timers")


def wake(helpdesk: str, ticket_id: int, reason: str, delivery_id: str) -> Any:
    """Run the decision for the ticket now (re-fetch, re-decide, write back, re-plan)."""
    return process_ticket(helpdesk, ticket_id, reason, delivery_id)


def timer_due(payload: dict[str, Any]) -> dict[str, Any]:
    """RQ entry point: the instant of a timer has come; wake the decision up. A timer job
    killed mid-way is re-run by RQ (``abandon_retry``); one that raises fails at once."""
    with final_on_error():
        return _timer_due(payload)


def _timer_due(payload: dict[str, Any]) -> dict[str, Any]:
    rt = get_runtime()
    conn, settings = rt.conn, rt.settings
    helpdesk, ticket_id = payload["helpdesk"], int(payload["ticket_id"])
    at_us = int(payload["at_us"])
    key = f"{payload['kind']}:{payload['name']}:{payload['stage']}"
    early = (at_us - _now_us()) / 1e6
    if early > EARLY_SLEEP_MAX:
        job = _queue(conn, settings).enqueue_at(
            _run_at(at_us), TIMER_FUNC, payload,
            job_id=timer_job_id(helpdesk, ticket_id, key, at_us) + f"-early{time.time_ns()}",
            job_timeout=300, result_ttl=3600, retry=abandon_retry())
        rt.count("tiergate_jobs_total", {"kind": "timer", "outcome": Outcome.EARLY})
        return {"status": Outcome.EARLY, "rescheduled": job.id, "early_s": round(early, 3)}
    if early > 0:
        time.sleep(early)
    current = conn.hget(keys.timer_index(helpdesk, ticket_id), key)
    if current is not None and int(current) != at_us:
        rt.count("tiergate_jobs_total", {"kind": "timer", "outcome": Outcome.STALE})
        return {"status": Outcome.STALE, "ticket_id": ticket_id, "timer": key}
    start_lag = (_now_us() - at_us) / 1e6
    result = wake(helpdesk, ticket_id, f"timer:{key}", f"timer:{key}:{at_us}")
    done_lag = (_now_us() - at_us) / 1e6
    pipe = conn.pipeline(transaction=False)
    pipe.lpush(keys.TIMER_LAG, json.dumps([round(start_lag, 6), round(done_lag, 6)]))
    pipe.ltrim(keys.TIMER_LAG, 0, LAG_KEEP - 1)
    pipe.execute()
    rt.count("tiergate_jobs_total", {"kind": "timer", "outcome": Outcome.FIRED})
    if rt.metrics is not None:
        try:
            rt.metrics.observe("tiergate_timer_lag_seconds", max(0.0, done_lag))
        except Exception:  # metrics never break a job
            log.warning("timer lag metric failed")
    return {"status": Outcome.FIRED, "ticket_id": ticket_id, "timer": key,
            "lag_s": round(done_lag, 3), "decision": result}


def sweep_job(payload: dict[str, Any]) -> dict[str, Any]:
    """RQ entry point: one sweep, then the next one is scheduled (even if this one failed)."""
    rt = get_runtime()
    interval = int(payload.get("interval") or DEFAULT_SWEEP_INTERVAL)
    try:
        if payload.get("full"):
            return sweep(rt.conn, rt.settings, rt.connector, datetime.now(timezone.utc), full=True)

        return incremental_sweep(rt.conn, rt.settings, rt.connector, datetime.now(timezone.utc))
    except (Unavailable, RateLimited) as exc:
        # the desk is down or out of budget: this cycle reads nothing, the next one starts from
        # the same stored cursor, so skipping it loses no change
        log.warning("sweep skipped helpdesk=%s reason=%s", rt.settings.helpdesk, type(exc).__name__)
        return {"skipped": type(exc).__name__}
    finally:
        start_sweeps(rt.conn, rt.settings, interval)
