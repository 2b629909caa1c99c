"""Delivery guarantees and vendor limits on real parts: real Redis, real `tiergate worker`
processes (SIGKILLed mid-job), the local Zendesk-compatible server over HTTP, RQ's registries."""
from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer

from fixtures_stack import build_stack, wait_until
from tiergate.jobs import batching
from tiergate.jobs.failed import failed
from tiergate.jobs.process import process_ticket
from tiergate.jobs.queues import ABANDON_RETRIES
from tiergate.plugin.core.errors import Unavailable
from tiergate.plugin.core.manifest import read_document

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from chaos_traffic import fingerprints, tiergate_notes  # noqa: E402
from chaos_workers import WorkerProc, worker_env  # noqa: E402

EXAMPLES = {row["external_id"]: row for row in map(json.loads, (REPO / "examples" / "tickets.jsonl").read_text().splitlines())}


def notes_of(stack, ticket_id):
    return tiergate_notes(stack.connector().fetch_ticket(ticket_id))


def job(stack, job_id):
    return Job.fetch(job_id, connection=stack.conn, serializer=JSONSerializer)


@pytest.fixture
def workers(tmp_path):
    started: list[WorkerProc] = []

    def start(stack, name="w"):
        proc = WorkerProc(worker_env(stack.settings), name, str(tmp_path / f"{name}.log")).start()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def test_worker_killed_mid_job_is_rerun_and_the_ticket_gets_exactly_one_note(zendesk_stack, workers):
    stack = zendesk_stack
    ticket_id = stack.import_and_wait_for_job(EXAMPLES["demo-outage"])
    (job_id,) = stack.queue.job_ids
    assert job(stack, job_id).retries_left == ABANDON_RETRIES
    stack.desk.handle.set_knobs(latency_ms=1500)           # every API call is slow: the job is mid-way
    first = workers(stack, "first")
    started = StartedJobRegistry(queue=stack.queue)
    wait_until(lambda: job_id in started.get_job_ids() and first.horses(), timeout=60)
    wait_until(lambda: stack.desk.handle.count("GET") >= 1, timeout=20)
    first.kill()                                            # worker and work-horse, SIGKILL
    assert notes_of(stack, ticket_id) == []
    stack.desk.handle.set_knobs(latency_ms=0)
    workers(stack, "second")
    wait_until(lambda: job(stack, job_id).get_status() == "finished", timeout=90, interval=0.5)
    rerun = job(stack, job_id)
    assert rerun.retries_left == ABANDON_RETRIES - 1        # re-run by RQ's abandoned-job retry
    assert rerun.return_value()["status"] == "applied"
    ticket = stack.connector().fetch_ticket(ticket_id)
    notes = tiergate_notes(ticket)
    fps = fingerprints(notes)
    assert len(notes) == 1 and fps and len(fps) == len(set(fps))   # one comment, no note twice
    fired = rerun.return_value()["fired"]
    assert {f"tg_fired_{name}" for name in fired} <= set(ticket.tags)
    assert FailedJobRegistry(queue=stack.queue).count == 0


def test_missing_ticket_fails_at_once_despite_the_retry_and_failed_cli_manages_it(zendesk_stack, monkeypatch):
    stack = zendesk_stack
    ticket_id = stack.import_and_wait_for_job(EXAMPLES["demo-outage"])
    (job_id,) = stack.queue.job_ids
    stack.desk.handle.delete_ticket(ticket_id)
    stack.work()
    registry = FailedJobRegistry(queue=stack.queue)
    assert registry.get_job_ids() == [job_id]                # failed, not retried 3 times
    assert ScheduledJobRegistry(queue=stack.queue).count == 0 and stack.queue.count == 0
    monkeypatch.setenv("REDIS_URL", stack.settings.redis_url)
    runner = CliRunner()
    listed = runner.invoke(failed, ["list", "--json"])
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.output)
    assert row["id"] == job_id and "NotFound" in row["reason"] and str(ticket_id) in row["reason"]
    text = runner.invoke(failed, ["list"])
    assert "1 failed job(s)" in text.output and "NotFound" in text.output
    assert runner.invoke(failed, ["retry"]).exit_code != 0   # names ids or --all
    retried = runner.invoke(failed, ["retry", job_id])
    assert retried.exit_code == 0 and "requeued 1" in retried.output
    assert registry.count == 0 and stack.queue.job_ids == [job_id]
    stack.work()                                             # still missing: fails again, clearly
    assert registry.get_job_ids() == [job_id]
    purged = runner.invoke(failed, ["purge", "--yes"])
    assert purged.exit_code == 0 and "purged 1" in purged.output
    assert registry.count == 0
    assert runner.invoke(failed, ["list"]).output.strip().endswith("0 failed job(s)")


def test_5xx_reschedules_with_jittered_backoff_then_fails_with_the_reason(zendesk_stack):
    stack = zendesk_stack
    ticket_id = stack.import_and_wait_for_job(EXAMPLES["demo-legal"])
    delays = []
    for attempt in range(4):
        stack.desk.handle.set_knobs(fail_next=1, fail_status=503)
        result = process_ticket(stack.helpdesk, ticket_id, "t", "d-5xx", attempt=attempt, runtime=stack.runtime)
        assert result["status"] == "rescheduled" and result["why"].startswith("unavailable")
        delays.append(result["delay"])
        base = 2.0 ** attempt
        assert max(1.0, 0.5 * base) <= result["delay"] <= 1.5 * base
    scheduled = ScheduledJobRegistry(queue=stack.queue).get_job_ids()
    assert len(scheduled) == 4
    assert job(stack, scheduled[0]).retries_left == ABANDON_RETRIES   # reschedules survive a kill too
    stack.desk.handle.set_knobs(fail_next=1, fail_status=503)
    with pytest.raises(Unavailable, match="retry horizon passed"):   # first failure older than the horizon
        process_ticket(stack.helpdesk, ticket_id, "t", "d-5xx", attempt=4, runtime=stack.runtime,
                       first_failed_at=time.time() - stack.settings.retry_horizon - 1)
    assert notes_of(stack, ticket_id) == []


def test_429_reschedules_after_retry_after_and_no_worker_sleeps(zendesk_stack):
    stack = zendesk_stack
    ticket_id = stack.import_and_wait_for_job(EXAMPLES["demo-outage"])
    handle = stack.desk.handle
    handle.set_knobs(rate_limit_per_minute=2)
    for _ in range(2):
        requests.get(f"{handle.url}/api/v2/tickets/{ticket_id}.json", auth=(f"{handle.email}/token", handle.token))
    began = time.monotonic()
    result = process_ticket(stack.helpdesk, ticket_id, "t", "d-429", runtime=stack.runtime)
    elapsed = time.monotonic() - began
    assert result["status"] == "rescheduled" and result["why"] == "rate_limited"
    assert result["delay"] >= 30          # the server's Retry-After (its minute window)...
    assert elapsed < result["delay"] / 4  # ...was not slept through by the worker
    when = ScheduledJobRegistry(queue=stack.queue).get_scheduled_time(result["job_id"]).timestamp()
    assert when >= time.time() + result["delay"] - 5
    assert handle.count(status=429) == 1


def test_budget_applies_to_real_accounts_and_on_request_to_loopback_desks():
    from tiergate.jobs.ratelimit import budget_wanted
    from tiergate.runtime.config import Settings

    real = Settings(zendesk_subdomain="acme")
    local = Settings(zendesk_subdomain="acme", zendesk_netloc="127.0.0.1:8080")
    assert budget_wanted(real, {}) and not budget_wanted(local, {})
    assert budget_wanted(local, {"TIERGATE_RATE_BUDGET": "on"}) and not budget_wanted(real, {"TIERGATE_RATE_BUDGET": "off"})


def test_shared_budget_sized_from_the_manifest_refuses_before_sending(redis_conn, redis_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TIERGATE_RATE_BUDGET", "on")
    data = read_document(REPO / "manifest.json")
    data["helpdesk"]["rate_limit_per_minute"] = 6
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    stack, close = build_stack("zendesk", redis_url, tmp_path, manifest_path=str(path))
    try:
        ticket_id = stack.import_and_wait_for_job(EXAMPLES["demo-outage"])
        budget = stack.runtime.connector.budget
        assert budget.capacity == 6
        # another worker process (same account, same Redis key) spends the whole budget
        from tiergate.jobs.ratelimit import manifest_budget

        other = manifest_budget(redis_conn, stack.settings, stack.runtime.manifests)
        assert other.key == budget.key
        assert other.take(cost=other.capacity) == 0.0
        stack.runtime.enricher(stack.runtime.manifest())             # warm: time only the job
        before = stack.desk.handle.stats()["total"]
        began = time.monotonic()
        result = process_ticket(stack.helpdesk, ticket_id, "t", "d-budget", runtime=stack.runtime)
        assert result["status"] == "rescheduled" and result["why"] == "rate_limited"
        assert result["delay"] >= 5 and time.monotonic() - began < result["delay"] / 2   # no sleeping
        assert stack.desk.handle.stats()["total"] == before          # nothing sent over budget
    finally:
        close()


class _Recorder(BaseHTTPRequestHandler):
    """A loopback proxy in front of the desk recording when each request ran."""

    upstream = ""
    spans: list = []
    lock = threading.Lock()

    def _forward(self):
        began = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        resp = requests.request(self.command, self.upstream + self.path, data=body, headers=headers, timeout=30)
        with self.lock:
            self.spans.append((began, time.monotonic(), self.command, self.path))
        self.send_response(resp.status_code)
        for k, v in resp.headers.items():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(resp.content)))
        self.end_headers()
        self.wfile.write(resp.content)

    do_GET = do_PUT = do_POST = do_DELETE = _forward

    def log_message(self, *args):
        pass


def test_two_worker_processes_never_work_on_one_ticket_at_the_same_time(zendesk_stack, workers, tmp_path):
    stack = zendesk_stack
    ticket_id = stack.import_and_wait_for_job(EXAMPLES["demo-login"])
    stack.desk.handle.set_knobs(latency_ms=40)
    _Recorder.upstream, _Recorder.spans = stack.desk.handle.url, []
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        settings = stack.settings.with_(zendesk_netloc=f"127.0.0.1:{proxy.server_port}")
        from tiergate.jobs.queues import queue

        q = queue(stack.conn, settings)
        for n in range(6):   # timer-like jobs: never superseded, each one fetches and decides
            q.enqueue("tiergate.jobs.process.process_ticket_job",
                      {"helpdesk": "zendesk", "ticket_id": ticket_id, "reason": "test", "delivery_id": f"c{n}"})
        procs = [WorkerProc(worker_env(settings), f"s{i}", str(tmp_path / f"s{i}.log")).start() for i in range(2)]
        try:
            wait_until(lambda: q.count == 0 and StartedJobRegistry(queue=q).count == 0
                       and q.finished_job_registry.count >= 7, timeout=120, interval=0.5)
        finally:
            for p in procs:
                p.stop()
        workers_used = {job(stack, j).worker_name for j in q.finished_job_registry.get_job_ids()}
        assert len(workers_used) == 2, "both workers took jobs"
        spans = sorted((b, e) for b, e, _m, path in _Recorder.spans if f"/tickets/{ticket_id}" in path)
        # each job's requests for the ticket are one run under the lock: no two runs interleave
        overlaps = [(a, b) for a, b in zip(spans, spans[1:]) if b[0] < a[1]]
        assert spans and not overlaps, overlaps
        assert len(notes_of(stack, ticket_id)) == 1
    finally:
        proxy.shutdown()


def test_superseded_delivery_skips_the_fetch(zendesk_stack):
    from datetime import datetime, timedelta, timezone

    from tiergate.connectors.base import Delivery
    from tiergate.jobs.process import process_delivery
    from tiergate.jobs.runtime import set_runtime

    stack = zendesk_stack
    ticket_id = stack.import_and_wait_for_job(EXAMPLES["demo-outage"])
    stack.work()
    set_runtime(stack.runtime)
    before = stack.desk.handle.stats()["total"]
    old = Delivery("late-1", ticket_id, "trigger", "zendesk", received_at=datetime.now(timezone.utc) - timedelta(seconds=30))
    assert process_delivery(old.to_dict())["status"] == "superseded"
    assert stack.desk.handle.stats()["total"] == before
    new = Delivery("late-2", ticket_id, "trigger", "zendesk", received_at=datetime.now(timezone.utc))
    # a later delivery is decided; the ticket is as tiergate's write left it, so nothing is new
    assert process_delivery(new.to_dict())["status"] == "own_write"
