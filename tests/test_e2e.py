"""End to end on real parts, once per helpdesk connector: the local helpdesk delivers a signed
webhook over HTTP, the receiver enqueues, a real RQ worker re-fetches, enriches with the real spaCy
pipeline, decides with the default manifest and writes back through the connector."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from rq.job import Job
from rq.registry import FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry
from rq.serializers import JSONSerializer

from fixtures_stack import wait_until
from tiergate.jobs.process import process_ticket
from tiergate.jobs.state import load_summary
from tiergate.jobs.ticket_decision import OWN_ECHO_REASON
from tiergate.plugin.core.model import TicketUpdate

EXAMPLES = {row["external_id"]: row for row in map(
    json.loads, (Path(__file__).resolve().parent.parent / "examples" / "tickets.jsonl").read_text().splitlines())}


def internal_notes(ticket):
    return [c.body for c in ticket.comments if not c.public]


def writes(stack) -> int:
    """Write calls the helpdesk received (PUT/POST/DELETE on its API, not the import)."""
    stats = stack.desk.handle.stats()
    return sum(n for (method, path, status), n in _rows(stats) if method in ("PUT", "POST", "DELETE")
               and "import" not in path and status < 300)


def _rows(stats):
    for key, n in stats.get("requests", {}).items():
        method, path, status = key.split(" ", 2) if isinstance(key, str) else key
        yield (method, path, int(status)), n


@pytest.mark.parametrize("example", ["demo-outage", "demo-login", "demo-legal", "demo-repeat"])
def test_risky_ticket_is_tagged_noted_and_reassigned(stack, example):
    ticket_id = stack.import_and_wait_for_job(EXAMPLES[example])
    stack.work()
    ticket = stack.connector().fetch_ticket(ticket_id)
    notes = internal_notes(ticket)
    handoffs = [n for n in notes if "you own this ticket" in n]
    assert len(handoffs) == 1, notes
    # a later run may add an SLA warning once the raised priority's clock is nearly spent
    # (wall-clock and business-hours dependent); nothing else, and nothing twice
    assert all("[tiergate:" in n for n in notes)
    assert all(n in handoffs or n.startswith("SLA warning") for n in notes), notes
    assert len({n.rsplit("[tiergate:", 1)[1] for n in notes}) == len(notes)
    assert ticket.group_id != EXAMPLES[example]["group_id"], "escalated tickets change owner"
    summary = load_summary(stack.conn, stack.helpdesk, ticket_id)
    assert summary["fired"] and summary["escalation"]
    assert summary["reasons"], "every decision explains itself"
    risk = {r["tag"] for r in summary["risk_tags"]}
    assert risk, "a risky conversation yields risk tags"
    assert set(ticket.tags) & {f"tg_fired_{name}" for name in summary["fired"]}


@pytest.mark.parametrize("example", ["demo-calm-1", "demo-calm-2", "demo-calm-3"])
def test_calm_ticket_is_left_alone(stack, example):
    ticket_id = stack.import_and_wait_for_job(EXAMPLES[example])
    stack.work()
    ticket = stack.connector().fetch_ticket(ticket_id)
    assert internal_notes(ticket) == []
    assert ticket.group_id == EXAMPLES[example]["group_id"]
    assert ticket.assignee_id == EXAMPLES[example]["assignee_id"]
    summary = load_summary(stack.conn, stack.helpdesk, ticket_id)
    assert summary is not None and summary["escalation"] is None


def test_running_the_same_job_twice_changes_nothing_the_second_time(stack):
    ticket_id = stack.import_and_wait_for_job(EXAMPLES["demo-outage"])
    stack.work()
    first = stack.connector().fetch_ticket(ticket_id)
    result = process_ticket(stack.helpdesk, ticket_id, "test", "same-delivery", runtime=stack.runtime)
    assert result["status"] == "unchanged"
    again = stack.connector().fetch_ticket(ticket_id)
    assert internal_notes(again) == internal_notes(first)
    assert sorted(again.tags) == sorted(first.tags)
    assert again.updated_at == first.updated_at


def _results(stack) -> list[dict]:
    registry = FinishedJobRegistry(queue=stack.queue)
    jobs = Job.fetch_many(registry.get_job_ids(), connection=stack.conn, serializer=JSONSerializer)
    return [j.return_value() for j in jobs if j is not None and j.return_value()]


def _statuses(stack) -> list[str]:
    return [r["status"] for r in _results(stack)]


def test_the_desks_webhook_for_tiergates_own_write_decides_nothing_a_persons_change_does(stack):
    ticket_id = stack.import_and_wait_for_job(EXAMPLES["demo-legal"])
    stack.work()
    moved = stack.connector().fetch_ticket(ticket_id)
    assert moved.group_id != EXAMPLES["demo-legal"]["group_id"]
    # the escalation's own group change makes the desk's "group changed" trigger deliver a webhook
    def delivered(n):
        if stack.queue.count:
            stack.work()
        return len(_statuses(stack)) >= n
    wait_until(lambda: delivered(2))
    assert sorted(_statuses(stack)) == ["applied", "own_write"]
    if stack.helpdesk == "zendesk":    # its triggers send the write's updated_at: no read needed
        assert OWN_ECHO_REASON in [r for result in _results(stack) for r in result.get("reasons", [])]
    after = stack.connector().fetch_ticket(ticket_id)
    assert internal_notes(after) == internal_notes(moved) and sorted(after.tags) == sorted(moved.tags)
    # a person moves it back to the frontline: that delivery is decided
    stack.connector().apply(ticket_id, TicketUpdate(group_id=EXAMPLES["demo-legal"]["group_id"]),
                            expected_updated_at=None, delivery_id="a person")
    wait_until(lambda: delivered(3))
    statuses = _statuses(stack)
    assert len(statuses) == 3 and statuses.count("own_write") == 1, statuses


def test_conflict_409_refetches_and_decides_again(zendesk_stack):
    stack = zendesk_stack
    ticket_id = stack.import_and_wait_for_job(EXAMPLES["demo-legal"])
    stack.desk.handle.set_knobs(conflict_next=1)
    result = process_ticket(stack.helpdesk, ticket_id, "test", "d-409", runtime=stack.runtime)
    assert result["status"] == "applied"
    assert result["attempts"] == 2
    ticket = stack.connector().fetch_ticket(ticket_id)
    assert len(internal_notes(ticket)) == 1


def test_429_reschedules_after_retry_after_instead_of_sleeping(stack):
    ticket_id = stack.import_and_wait_for_job(EXAMPLES["demo-outage"])
    stack.desk.handle.set_knobs(fail_next=1, fail_status=429)
    result = process_ticket(stack.helpdesk, ticket_id, "test", "d-429", runtime=stack.runtime)
    assert result["status"] == "rescheduled" and result["why"] == "rate_limited"
    assert result["delay"] >= 1
    scheduled = ScheduledJobRegistry(queue=stack.queue)
    assert result["job_id"] in scheduled.get_job_ids()
    # nothing was written yet; once due, the rescheduled job finishes the work
    assert internal_notes(stack.connector().fetch_ticket(ticket_id)) == []
    wait_until(lambda: scheduled.get_scheduled_time(result["job_id"]).timestamp() <= __import__("time").time(),
               timeout=10)
    stack.work(with_scheduler=True)
    wait_until(lambda: internal_notes(stack.connector().fetch_ticket(ticket_id)), timeout=15)


def test_ticket_that_no_longer_exists_fails_clearly_and_writes_nothing(stack):
    ticket_id = stack.import_and_wait_for_job(EXAMPLES["demo-outage"])
    stack.desk.handle.delete_ticket(ticket_id)
    stack.work()
    failed = FailedJobRegistry(queue=stack.queue)
    (job_id,) = failed.get_job_ids()
    job = Job.fetch(job_id, connection=stack.conn, serializer=JSONSerializer)
    assert "NotFound" in job.latest_result().exc_string
    assert str(ticket_id) in job.latest_result().exc_string
    assert load_summary(stack.conn, stack.helpdesk, ticket_id) is None


def test_a_delivery_is_our_own_echo_only_with_the_exact_stamp_of_our_last_write(redis_conn):
    from datetime import datetime, timezone
    from tiergate.connectors.base import Delivery
    from tiergate.jobs.state import own_echo, save_own_stamp

    def delivery(updated_at):
        return Delivery(delivery_id="d", ticket_id=7, event_type="trigger", helpdesk="zendesk",
                        detail={"ticket_id": 7, "updated_at": updated_at})
    assert not own_echo(redis_conn, delivery("2026-12-04T10:00:05Z"))     # nothing written yet
    save_own_stamp(redis_conn, "zendesk", 7, datetime(2026, 12, 4, 10, 0, 5, tzinfo=timezone.utc))
    assert own_echo(redis_conn, delivery("2026-12-04T10:00:05Z"))
    assert not own_echo(redis_conn, delivery("2026-12-04T10:00:06Z"))     # a later change
    assert not own_echo(redis_conn, delivery("December 4, 2026 10:00"))   # unparsable: read it
    assert not own_echo(redis_conn, delivery(None))
