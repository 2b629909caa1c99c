"""Outcomes close the loop without a backfill, on real parts: the local Zendesk (with the outcome
triggers ``tiergate install`` adds) delivers signed webhooks when an agent solves or reopens a
ticket and when the customer rates it; the real receiver dedupes and queues an outcome job; a real
RQ worker re-fetches the ticket and records it in the SQLite decision log; ``tiergate report``
shows the CSAT of escalated tickets, MTTR and first-contact resolution."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import requests
from click.testing import CliRunner

from tiergate.connectors.base import Delivery
from tiergate.connectors.outcome_events import event_type
from tiergate.connectors.zendesk_webhook import INVOCATION_ID_HEADER, format_timestamp, signed_headers
from tiergate.jobs.ticket_outcome import observe_outcome
from tiergate.plugin.analytics.log import DecisionLog
from tiergate.plugin.cli import main

EXAMPLES = {row["external_id"]: row for row in map(
    json.loads, (Path(__file__).resolve().parent.parent / "examples" / "tickets.jsonl").read_text().splitlines())}
AGENT = 201


def _escalated(stack) -> int:
    ticket_id = stack.import_and_wait_for_job(EXAMPLES["demo-outage"])
    stack.work()
    facts = stack.runtime.decision_log.ticket("zendesk", ticket_id)
    assert facts is not None and facts.escalations, "the example is escalated by a decision"
    assert facts.solved_at is None and facts.satisfaction is None
    return ticket_id


def _deliveries(stack, ticket_id: int, title: str) -> list[dict]:
    return [d for d in stack.desk.handle.deliveries()
            if d["ticket_id"] == ticket_id and d["event"] == f"trigger:{title}"]


def _desk_event(stack, ticket_id: int, title: str, act) -> dict:
    """Do ``act`` on the desk; wait until its trigger's delivery was accepted; run the worker."""
    before = len(_deliveries(stack, ticket_id, title))
    act()
    assert stack.desk.handle.wait_deliveries()
    sent = _deliveries(stack, ticket_id, title)
    assert len(sent) == before + 1, f"the desk fired {title!r} once"
    assert sent[-1]["status"] == 202, sent[-1]
    assert stack.queue.count >= 1
    stack.work()
    return sent[-1]


def _rate(stack, ticket_id: int, score: str) -> None:
    handle = stack.desk.handle
    r = requests.post(f"{handle.url}/api/v2/tickets/{ticket_id}/satisfaction_rating",
                      json={"satisfaction_rating": {"score": score, "comment": "thanks"}},
                      auth=(f"{handle.email}/token", handle.token), timeout=10)
    assert r.status_code == 200, r.text


def _report(stack) -> dict:
    result = CliRunner().invoke(main, ["report", "--format", "json", "--db", stack.settings.db_url])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_solved_and_rated_escalation_shows_in_the_report_without_backfill(zendesk_stack):
    stack = zendesk_stack
    ticket_id = _escalated(stack)
    before = _report(stack)["metrics"]
    assert before["csat_escalated"]["n"] == 0 and before["mttr_minutes"]["n"] == 0

    _desk_event(stack, ticket_id, "tiergate: ticket solved",
                lambda: stack.desk.handle.update_ticket(ticket_id, author_id=AGENT, status="solved"))
    facts = stack.runtime.decision_log.ticket("zendesk", ticket_id)
    assert facts.status == "solved" and facts.solved_at is not None
    desk_ticket = stack.connector().fetch_ticket(ticket_id)
    solved_change = [c for c in desk_ticket.changes if c.field == "status" and c.new == "solved"][-1]
    assert facts.solved_at == solved_change.at, "the solve time is the desk's audited one"

    _desk_event(stack, ticket_id, "tiergate: satisfaction rated", lambda: _rate(stack, ticket_id, "good"))
    assert stack.runtime.decision_log.ticket("zendesk", ticket_id).satisfaction == "good"

    metrics = _report(stack)["metrics"]
    assert metrics["csat_escalated"] == {"value": 1.0, "good": 1, "n": 1}
    assert metrics["csat_other"]["n"] == 0
    expected = (facts.solved_at - facts.opened_at).total_seconds() / 60
    assert metrics["mttr_minutes"]["n"] == 1
    assert abs(metrics["mttr_minutes"]["value"] - expected) < 1e-6
    assert metrics["first_contact_resolution"]["n"] == 1
    md = CliRunner().invoke(main, ["report", "--db", stack.settings.db_url])
    assert "| CSAT, escalated | 100%" in md.stdout.replace("100.0%", "100%"), md.stdout


def test_a_desk_retry_of_an_outcome_delivery_records_nothing_twice(zendesk_stack):
    stack = zendesk_stack
    ticket_id = _escalated(stack)
    _desk_event(stack, ticket_id, "tiergate: ticket solved",
                lambda: stack.desk.handle.update_ticket(ticket_id, author_id=AGENT, status="solved"))
    reopened = _desk_event(stack, ticket_id, "tiergate: ticket reopened",
                           lambda: stack.desk.handle.update_ticket(ticket_id, author_id=AGENT, status="open"))
    log = stack.runtime.decision_log
    facts = log.ticket("zendesk", ticket_id)
    assert facts.reopens == 1 and facts.status == "open" and facts.solved_at is None
    assert facts.first_solved_at is not None

    # Zendesk retries a delivery it thinks failed with the same invocation id, signed anew
    body = json.dumps({"ticket_id": str(ticket_id), "tiergate_event": "reopened"}, separators=(",", ":"))
    headers = {**signed_headers(body.encode(), stack.settings.webhook_secret,
                                format_timestamp(datetime.now(timezone.utc))),
               INVOCATION_ID_HEADER: reopened["invocation_id"], "Content-Type": "application/json"}
    queued = stack.queue.count
    r = requests.post(f"{stack.receiver_url}/webhooks/zendesk", data=body, headers=headers, timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "duplicate", r.text
    assert stack.queue.count == queued

    # and an outcome job that runs twice on the same snapshot adds nothing either
    d = Delivery(delivery_id="again", ticket_id=ticket_id, event_type=event_type("reopened"),
                 helpdesk="zendesk", received_at=datetime.now(timezone.utc))
    assert observe_outcome(stack.runtime, d)["status"] == "recorded"
    assert observe_outcome(stack.runtime, d)["status"] == "recorded"
    again = log.ticket("zendesk", ticket_id)
    assert (again.reopens, again.first_solved_at, again.status) == (1, facts.first_solved_at, "open")
    metrics = _report(stack)["metrics"]
    assert metrics["reopen_rate"]["value"] == 1.0


def test_outcome_job_trusts_the_desk_not_the_payload(zendesk_stack):
    """A delivery saying "solved" for a ticket still open records the open ticket."""
    stack = zendesk_stack
    ticket_id = _escalated(stack)
    decided = len(stack.runtime.decision_log.ticket("zendesk", ticket_id).decisions)
    body = json.dumps({"ticket_id": str(ticket_id), "tiergate_event": "solved"}).encode()
    headers = {**signed_headers(body, stack.settings.webhook_secret, format_timestamp(datetime.now(timezone.utc))),
               "Content-Type": "application/json"}
    r = requests.post(f"{stack.receiver_url}/webhooks/zendesk", data=body, headers=headers, timeout=10)
    assert r.status_code == 202, r.text
    stack.work()
    facts = stack.runtime.decision_log.ticket("zendesk", ticket_id)
    assert facts.status != "solved" and facts.solved_at is None
    assert len(facts.decisions) == decided, "an outcome delivery asks for no decision"
    assert DecisionLog(stack.settings.db_url).counts()["tickets"] == 1


def test_zammad_close_and_reopen_reach_the_decision_log(redis_conn, redis_url, tmp_path):
    """Zammad: the installed "ticket closed" / "ticket reopened" triggers (selective on the state)
    deliver; an article on a closed ticket does not fire them."""
    from fixtures_stack import build_stack

    stack, close = build_stack("zammad", redis_url, tmp_path)
    try:
        handle = stack.desk.handle
        ticket_id = stack.import_and_wait_for_job(EXAMPLES["demo-outage"])
        stack.work()
        log = stack.runtime.decision_log
        assert log.ticket("zammad", ticket_id).escalations
        auth = {"Authorization": f"Token token={handle.token}"}

        def put(**fields):
            r = requests.put(f"{handle.url}/api/v1/tickets/{ticket_id}", json=fields, headers=auth, timeout=10)
            assert r.status_code == 200, r.text
            records = [d for d in handle.wait_deliveries() if d["ticket_id"] == ticket_id]
            stack.work()
            return records

        records = put(state_id=4)
        closed = [d for d in records if d["trigger"] == "tiergate: ticket closed"]
        assert len(closed) == 1 and closed[0]["status"] == 202
        facts = log.ticket("zammad", ticket_id)
        assert facts.status == "solved" and facts.solved_at is not None     # the connector's name for closed

        records = put(priority_id=3)        # another change while closed: no second "closed" delivery
        assert [d["trigger"] for d in records].count("tiergate: ticket closed") == 1

        records = put(state_id=2)
        assert [d["status"] for d in records if d["trigger"] == "tiergate: ticket reopened"] == [202]
        facts = log.ticket("zammad", ticket_id)
        assert facts.reopens == 1 and facts.status == "open" and facts.first_solved_at is not None
    finally:
        close()
