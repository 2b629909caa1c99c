"""Retries with a horizon of hours, the per-desk circuit breaker, waiting jobs visible in
``tiergate failed list``, and the dead-letter list with its one-command retry (real Redis, RQ
worker and the local Zendesk-compatible server)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from tiergate.jobs import breaker
from tiergate.jobs.failed import failed
from tiergate.jobs.process import process_ticket
from tiergate.plugin.core.errors import Unavailable

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = {row["external_id"]: row for row in map(json.loads, (REPO / "examples" / "tickets.jsonl").read_text().splitlines())}


def test_backoff_is_exponential_jittered_and_capped():
    import random

    rng = random.Random(7)
    for attempt in range(30):
        delay = breaker.backoff(attempt, rng)
        base = min(breaker.BACKOFF_CAP, 2.0 ** attempt)
        assert 0.5 * base <= delay <= 1.5 * base
    assert not breaker.past_horizon(None, 60) and breaker.past_horizon(time.time() - 61, 60)


def test_within_the_horizon_a_job_is_rescheduled_long_past_five_attempts(zendesk_stack):
    stack = zendesk_stack
    ticket_id = stack.import_and_wait_for_job(EXAMPLES["demo-legal"])
    stack.desk.handle.set_knobs(fail_next=1, fail_status=503)
    result = process_ticket(stack.helpdesk, ticket_id, "t", "d-h", attempt=20, runtime=stack.runtime,
                            first_failed_at=time.time() - 3600)          # an hour into the outage
    assert result["status"] == "rescheduled" and result["why"].startswith("unavailable")
    assert 0.5 * breaker.BACKOFF_CAP <= result["delay"] <= 1.5 * breaker.BACKOFF_CAP
    (scheduled,) = ScheduledJobRegistry(queue=stack.queue).get_job_ids()
    payload = stack.queue.fetch_job(scheduled).args[0]
    assert payload["attempt"] == 21 and payload["first_failed_at"] <= time.time() - 3600


def test_breaker_opens_after_repeated_failures_and_jobs_wait_without_calling_the_desk(zendesk_stack, monkeypatch):
    stack = zendesk_stack
    handle = stack.desk.handle
    ids = [stack.import_and_wait_for_job(EXAMPLES[key]) for key in ("demo-legal", "demo-outage")]
    handle.set_knobs(fail_next=10_000, fail_status=503)                  # the desk is down
    for n in range(breaker.THRESHOLD):
        result = process_ticket(stack.helpdesk, ids[n % 2], "t", f"d-b{n}", runtime=stack.runtime)
        assert result["why"].startswith("unavailable")
    state = breaker.status(stack.conn, stack.helpdesk)
    assert state["open"] and state["trips"] == 1
    calls = handle.stats()["total"]
    result = process_ticket(stack.helpdesk, ids[0], "t", "d-open", runtime=stack.runtime)
    assert result["status"] == "rescheduled" and result["why"].startswith("circuit_open")
    assert result["delay"] >= breaker.COOLDOWN - 2
    assert handle.stats()["total"] == calls                              # the vendor was not called
    monkeypatch.setenv("REDIS_URL", stack.settings.redis_url)
    listed = CliRunner().invoke(failed, ["list"])
    assert listed.exit_code == 0, listed.output
    assert f"{breaker.THRESHOLD + 1} waiting job(s)" in listed.output
    assert "circuit_open" in listed.output and "unavailable" in listed.output
    assert f"circuit open: {stack.helpdesk}" in listed.output
    rows = json.loads(CliRunner().invoke(failed, ["list", "--json"]).output)
    assert {r["state"] for r in rows} == {"waiting"} and all(r["ticket_id"] in ids for r in rows)
    # the desk is back and the cool-down is over: the next job goes through and closes the breaker
    handle.set_knobs(fail_next=0)
    stack.conn.set(f"tg:breaker:{stack.helpdesk}:open_until", time.time() - 1)
    result = process_ticket(stack.helpdesk, ids[0], "t", "d-back", runtime=stack.runtime)
    assert result["status"] != "rescheduled", result
    assert not breaker.status(stack.conn, stack.helpdesk)["open"]


def test_past_the_horizon_the_job_is_dead_lettered_and_one_command_retries_it(zendesk_stack, monkeypatch):
    stack = zendesk_stack
    ticket_id = stack.import_and_wait_for_job(EXAMPLES["demo-legal"])
    stack.queue.empty()
    stack.queue.enqueue("tiergate.jobs.process.process_ticket_job",
                        {"helpdesk": stack.helpdesk, "ticket_id": ticket_id, "reason": "t", "delivery_id": "d-dl",
                         "attempt": 40, "first_failed_at": time.time() - stack.settings.retry_horizon - 5},
                        job_id="tg-dead-letter-test")
    stack.desk.handle.set_knobs(fail_next=1, fail_status=503)
    stack.work()
    registry = FailedJobRegistry(queue=stack.queue)
    assert registry.get_job_ids() == ["tg-dead-letter-test"]
    monkeypatch.setenv("REDIS_URL", stack.settings.redis_url)
    runner = CliRunner()
    (row,) = json.loads(runner.invoke(failed, ["list", "--json"]).output)
    assert row["state"] == "failed" and "retry horizon passed" in row["reason"]
    retried = runner.invoke(failed, ["retry", "--all"])
    assert retried.exit_code == 0 and "requeued 1" in retried.output
    stack.work()
    assert registry.count == 0
    assert stack.queue.fetch_job("tg-dead-letter-test").get_status() == "finished"
    with pytest.raises(Unavailable, match="retry horizon passed"):       # the reason names the horizon
        stack.desk.handle.set_knobs(fail_next=1, fail_status=503)
        process_ticket(stack.helpdesk, ticket_id, "t", "d-dl2", runtime=stack.runtime,
                       first_failed_at=time.time() - stack.settings.retry_horizon)
