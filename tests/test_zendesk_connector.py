"""ZendeskConnector (zenpy) against the local Zendesk-compatible server, over real HTTP."""
from __future__ import annotations

import time
from dataclasses import fields, replace
from datetime import datetime, timedelta, timezone

import pytest

from tiergate.connectors.base import Connector
from tiergate.connectors.connection import DeskConnection
from tiergate.connectors.registry import get_connector
from tiergate.connectors.zendesk import ZendeskConnector, from_connection
from tiergate.connectors.zendesk_webhook import format_timestamp, signed_headers
from tiergate.plugin.core.errors import Conflict, NotFound, RateLimited, Unavailable
from tiergate.plugin.core.model import Note, TicketUpdate

NOW = datetime.now(timezone.utc)
EXAMPLE = {
    "external_id": "demo-x", "subject": "Dashboard down", "description": "Your service is down for all users.",
    "priority": "urgent", "status": "open", "type": "incident", "channel": "email", "tags": ["outage"],
    "age_minutes": 90, "group_id": 101, "assignee_id": 201,
    "requester": {"name": "Marco Rossi", "email": "marco@contoso.example"},
    "organization": {"name": "Contoso", "segment": "enterprise", "account_value": 180000, "renewal_in_days": 25},
    "comments": [
        {"author": "agent", "body": "Looking into it.", "public": True, "channel": "web", "minutes_ago": 60},
        {"author": "customer", "body": "Still down!!", "public": True, "channel": "email", "minutes_ago": 10},
    ],
}


def puts(server) -> int:
    return server.count("PUT", "/tickets/")


def test_settings_hand_the_connector_its_connection_with_secrets_out_of_repr(zendesk_settings):
    connection = zendesk_settings.connection()
    for f in fields(DeskConnection):
        assert getattr(connection, f.name) == getattr(zendesk_settings, f.name), f.name
    assert zendesk_settings.zendesk_api_token not in repr(connection)
    assert zendesk_settings.webhook_secret not in repr(connection)
    assert get_connector(connection).netloc == zendesk_settings.zendesk_netloc
    with pytest.raises(ValueError, match="helpdesk: unknown 'nodesk'"):
        get_connector(replace(connection, helpdesk="nodesk"))


def test_connector_satisfies_protocol_and_settings(zendesk_connector, zendesk_settings):
    assert isinstance(zendesk_connector, Connector)
    assert zendesk_connector.name == "zendesk" and zendesk_connector.max_batch == 100
    body = b'{"ticket_id": "5"}'
    ts = format_timestamp(NOW)
    d = zendesk_connector.verify_delivery(signed_headers(body, zendesk_settings.webhook_secret, ts), body, NOW)
    assert d.ticket_id == 5


def test_fetch_ticket_builds_the_full_snapshot(zendesk_server, zendesk_connector):
    tid = zendesk_server.import_example(EXAMPLE, NOW, deliver=False)
    zendesk_server.update_ticket(tid, author_id=202, group_id=102, status="pending")
    zendesk_server.state.rate(tid, "bad", "slow")
    t = zendesk_connector.fetch_ticket(tid)
    assert (t.subject, t.priority, t.status, t.type, t.channel) == ("Dashboard down", "urgent", "pending",
                                                                    "incident", "email")
    assert t.group_id == 102 and t.assignee_id == 201 and "outage" in t.tags
    assert [(c.author_role, c.body, c.channel) for c in t.comments] == [
        ("end-user", "Your service is down for all users.", "email"),
        ("agent", "Looking into it.", "web"),
        ("end-user", "Still down!!", "email")]
    assert abs((t.created_at - (NOW - timedelta(minutes=90))).total_seconds()) < 1
    assert t.organization.name == "Contoso" and t.organization.segment == "enterprise"
    assert t.organization.account_value == 180000.0
    assert t.organization.renewal_at.date() == (NOW + timedelta(days=25)).date()
    group_changes = [(c.old, c.new, c.author_id) for c in t.changes if c.field == "group_id"]
    assert group_changes == [(None, 101, t.requester_id), (101, 102, 202)]
    assert [(c.old, c.new) for c in t.changes if c.field == "status"][-1] == ("open", "pending")
    assert t.satisfaction == "bad"
    assert t.to_dict() == type(t).from_dict(t.to_dict()).to_dict()


def test_fetch_reads_attachments_problem_and_followup(zendesk_server, zendesk_connector):
    parent = zendesk_server.seed_ticket("Parent", "first", type="problem")
    child = zendesk_server.seed_ticket("Child", "see screenshot", problem_id=parent["id"],
                                       via_followup_source_id=parent["id"], type="incident")
    zendesk_server.state.update_ticket(child["id"], {"comment": {"body": "logs attached", "author_id": child["requester_id"],
                                                                 "attachments": ["error.log", "screen.png"]}},
                                       check_conflict=False)
    t = zendesk_connector.fetch_ticket(child["id"])
    assert t.problem_id == parent["id"] and t.via_followup_source_id == parent["id"]
    assert t.comments[-1].attachments == ("error.log", "screen.png")


def test_apply_is_one_write_with_tags_note_group_priority(zendesk_server, zendesk_connector):
    ticket = zendesk_server.seed_ticket("Login broken", "cannot log in", tags=["keep", "old"], group_id=101)
    before = zendesk_connector.fetch_ticket(ticket["id"])
    zendesk_server.state.stats.clear()
    update = TicketUpdate(add_tags=("risk_login", "tg_fired_x"), remove_tags=("old",),
                          notes=(Note("Handoff\n[tiergate:abc]", fingerprint="abc"), Note("Second\n[tiergate:def]")),
                          group_id=102, assignee_id=202, priority="high", custom_fields={"360001": "sentiment__negative"})
    after = zendesk_connector.apply(ticket["id"], update, expected_updated_at=before.updated_at, delivery_id="d-1")
    assert puts(zendesk_server) == 1
    assert zendesk_server.count("PUT", "/tickets/", 200) == 1
    stored = zendesk_server.state.ticket(ticket["id"])
    assert stored["tags"] == ["keep", "risk_login", "tg_fired_x"]
    assert (stored["group_id"], stored["assignee_id"], stored["priority"]) == (102, 202, "high")
    assert {"id": 360001, "value": "sentiment__negative"} in stored["custom_fields"]
    note = zendesk_server.state.comments[ticket["id"]][-1]
    assert note["public"] is False and "[tiergate:abc]" in note["body"] and "[tiergate:def]" in note["body"]
    assert after.updated_at > before.updated_at and after.group_id == 102
    assert after.comments[-1].body == note["body"] and after.comments[-1].author_role == "agent"
    refetched = zendesk_connector.fetch_ticket(ticket["id"])
    assert refetched.updated_at == after.updated_at
    assert len([c for c in refetched.comments if not c.public]) == 1


def test_public_reply_and_private_note_become_two_comments_in_order(zendesk_server, zendesk_connector):
    ticket = zendesk_server.seed_ticket("Outage", "down", group_id=101)
    before = zendesk_connector.fetch_ticket(ticket["id"])
    zendesk_server.state.stats.clear()
    update = TicketUpdate(add_tags=("risk_outage",), group_id=103,
                          notes=(Note("internal handoff [tiergate:p1]"), Note("We will update you by 14:00", public=True)))
    zendesk_connector.apply(ticket["id"], update, expected_updated_at=before.updated_at, delivery_id="d-mixed")
    assert puts(zendesk_server) == 2, "Zendesk takes one comment per update"
    *_, private, public = zendesk_server.state.comments[ticket["id"]]
    assert (private["public"], public["public"]) == (False, True)
    assert "handoff" in private["body"] and "14:00" in public["body"]
    assert zendesk_server.state.ticket(ticket["id"])["group_id"] == 103


def test_apply_without_tag_changes_does_not_read_first(zendesk_server, zendesk_connector):
    ticket = zendesk_server.seed_ticket()
    before = zendesk_connector.fetch_ticket(ticket["id"])
    zendesk_server.state.stats.clear()
    zendesk_connector.apply(ticket["id"], TicketUpdate(group_id=103), expected_updated_at=before.updated_at,
                            delivery_id="d")
    assert zendesk_server.stats()["total"] == 1 and puts(zendesk_server) == 1


def test_stale_stamp_is_conflict_and_writes_nothing(zendesk_server, zendesk_connector):
    ticket = zendesk_server.seed_ticket(tags=["a"])
    before = zendesk_connector.fetch_ticket(ticket["id"])
    zendesk_server.update_ticket(ticket["id"], additional_tags=["agent_added"])   # someone else edits
    with pytest.raises(Conflict):
        zendesk_connector.apply(ticket["id"], TicketUpdate(add_tags=("risk",), notes=(Note("n"),)),
                                expected_updated_at=before.updated_at, delivery_id="d")
    stored = zendesk_server.state.ticket(ticket["id"])
    assert stored["tags"] == ["a", "agent_added"]
    assert len(zendesk_server.state.comments[ticket["id"]]) == 1
    # re-fetch and retry keeps the other agent's tag
    fresh = zendesk_connector.fetch_ticket(ticket["id"])
    zendesk_connector.apply(ticket["id"], TicketUpdate(add_tags=("risk",)), expected_updated_at=fresh.updated_at,
                            delivery_id="d")
    assert zendesk_server.state.ticket(ticket["id"])["tags"] == ["a", "agent_added", "risk"]


def test_back_to_back_writes_get_distinct_stamps(zendesk_server, zendesk_connector):
    ticket = zendesk_server.seed_ticket()
    stamp = zendesk_connector.fetch_ticket(ticket["id"]).updated_at
    seen = {stamp}
    for i in range(5):
        stamp = zendesk_connector.apply(ticket["id"], TicketUpdate(add_tags=(f"t{i}",)), expected_updated_at=stamp,
                                        delivery_id="d").updated_at
        seen.add(stamp)
    assert len(seen) == 6
    old = sorted(seen)[-2]
    with pytest.raises(Conflict):
        zendesk_connector.apply(ticket["id"], TicketUpdate(priority="low"), expected_updated_at=old, delivery_id="d")


def test_conflict_knob(zendesk_server, zendesk_connector):
    ticket = zendesk_server.seed_ticket()
    t = zendesk_connector.fetch_ticket(ticket["id"])
    zendesk_server.set_knobs(conflict_next=1)
    with pytest.raises(Conflict):
        zendesk_connector.apply(ticket["id"], TicketUpdate(priority="high"), expected_updated_at=t.updated_at,
                                delivery_id="d")
    t = zendesk_connector.fetch_ticket(ticket["id"])
    zendesk_connector.apply(ticket["id"], TicketUpdate(priority="high"), expected_updated_at=t.updated_at,
                            delivery_id="d")
    assert zendesk_server.state.ticket(ticket["id"])["priority"] == "high"


def test_429_raises_rate_limited_promptly_without_sleeping(zendesk_server, zendesk_connector):
    ticket = zendesk_server.seed_ticket()
    zendesk_server.set_knobs(rate_limit_per_minute=2)
    started = time.monotonic()
    with pytest.raises(RateLimited) as exc:
        for _ in range(3):
            zendesk_connector.apply(ticket["id"], TicketUpdate(priority="high"), expected_updated_at=None,
                                    delivery_id="d")
    assert time.monotonic() - started < 2.0          # zenpy would have slept ~60 s
    assert 50 <= exc.value.retry_after <= 60
    assert zendesk_server.count(status=429) == 1


def test_404_is_not_found(zendesk_connector):
    with pytest.raises(NotFound):
        zendesk_connector.fetch_ticket(987654)
    with pytest.raises(NotFound):
        zendesk_connector.apply(987654, TicketUpdate(priority="low"), expected_updated_at=NOW, delivery_id="d")


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_unavailable(zendesk_server, zendesk_connector, status):
    ticket = zendesk_server.seed_ticket()
    zendesk_server.set_knobs(fail_next=1, fail_status=status)
    with pytest.raises(Unavailable):
        zendesk_connector.fetch_ticket(ticket["id"])
    assert zendesk_connector.fetch_ticket(ticket["id"]).id == ticket["id"]


def test_timeout_and_refused_connection_are_unavailable(zendesk_server, zendesk_settings):
    ticket = zendesk_server.seed_ticket()
    slow = from_connection(zendesk_settings.with_(zendesk_timeout=0.2).connection())
    zendesk_server.set_knobs(latency_ms=1000)
    started = time.monotonic()
    with pytest.raises(Unavailable):
        slow.fetch_ticket(ticket["id"])
    assert time.monotonic() - started < 1.0
    zendesk_server.set_knobs(latency_ms=0)
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    dead = from_connection(zendesk_settings.with_(zendesk_netloc=f"127.0.0.1:{free}").connection())
    with pytest.raises(Unavailable):
        dead.fetch_ticket(1)


def test_apply_many_uses_update_many_and_waits_for_the_job(zendesk_server, zendesk_connector):
    ids = [zendesk_server.seed_ticket(f"t{i}", "x", tags=["base"])["id"] for i in range(3)]
    zendesk_server.state.stats.clear()
    zendesk_connector.apply_many([(i, TicketUpdate(add_tags=("bulk",), remove_tags=("base",), group_id=102,
                                                   notes=(Note("bulk note"),))) for i in ids], delivery_id="b")
    assert zendesk_server.count("PUT", "update_many") == 1
    assert zendesk_server.count("GET", "job_statuses") >= 1
    for i in ids:
        t = zendesk_server.state.ticket(i)
        assert t["tags"] == ["bulk"] and t["group_id"] == 102
        assert zendesk_server.state.comments[i][-1]["body"] == "bulk note"


def test_apply_many_chunks_by_max_batch_and_reports_missing(zendesk_server, zendesk_connector):
    ids = [zendesk_server.seed_ticket(f"t{i}", "x")["id"] for i in range(101)]
    zendesk_connector.apply_many([(i, TicketUpdate(add_tags=("x",))) for i in ids], delivery_id="b")
    assert zendesk_server.count("PUT", "update_many", 200) == 2
    assert all("x" in zendesk_server.state.ticket(i)["tags"] for i in ids)
    with pytest.raises(NotFound):
        zendesk_connector.apply_many([(ids[0], TicketUpdate(add_tags=("y",))), (99999, TicketUpdate(add_tags=("y",)))],
                                     delivery_id="b")


def test_iter_tickets_filters_status_and_time(zendesk_server, zendesk_connector):
    a = zendesk_server.seed_ticket("a", "x", status="open")["id"]
    b = zendesk_server.seed_ticket("b", "x", status="solved")["id"]
    assert [t.id for t in zendesk_connector.iter_tickets()] == [a, b]
    assert [t.id for t in zendesk_connector.iter_tickets(status=["open"])] == [a]
    assert list(zendesk_connector.iter_tickets(updated_since=NOW + timedelta(hours=1))) == []


def test_unauthorized_is_not_retried_as_unavailable(zendesk_settings):
    from tiergate.plugin.core.errors import ConnectorError
    bad = from_connection(zendesk_settings.with_(zendesk_api_token="wrong").connection())
    with pytest.raises(ConnectorError) as exc:
        bad.fetch_ticket(1)
    assert not isinstance(exc.value, (Unavailable, NotFound)) and "401" in str(exc.value)


def test_constructor_requires_credentials():
    from tiergate.plugin.core.errors import ConnectorError
    with pytest.raises(ConnectorError):
        ZendeskConnector("", "a@b", "t")


def test_injected_429_carries_retry_after(zendesk_server, zendesk_connector):
    ticket = zendesk_server.seed_ticket()
    zendesk_server.set_knobs(fail_next=1, fail_status=429)
    with pytest.raises(RateLimited) as exc:
        zendesk_connector.fetch_ticket(ticket["id"])
    assert exc.value.retry_after == 1.0
    zendesk_server.delete_ticket(ticket["id"])
    with pytest.raises(NotFound):
        zendesk_connector.fetch_ticket(ticket["id"])


def test_racing_writers_with_one_stamp_exactly_one_wins(zendesk_server, zendesk_settings):
    from concurrent.futures import ThreadPoolExecutor

    ticket = zendesk_server.seed_ticket(tags=["base"])
    stamp = from_connection(zendesk_settings.connection()).fetch_ticket(ticket["id"]).updated_at

    def write(i: int) -> str:
        connector = from_connection(zendesk_settings.connection())
        try:
            connector.apply(ticket["id"], TicketUpdate(add_tags=(f"w{i}",), notes=(Note(f"note {i}"),)),
                            expected_updated_at=stamp, delivery_id=f"d{i}")
            return "ok"
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(write, range(8)))
    assert outcomes.count("ok") == 1 and outcomes.count("conflict") == 7
    stored = zendesk_server.state.ticket(ticket["id"])
    assert len(stored["tags"]) == 2 and stored["tags"][0] == "base"
    assert len(zendesk_server.state.comments[ticket["id"]]) == 2


def test_long_threads_are_paginated(zendesk_server, zendesk_connector):
    ticket = zendesk_server.seed_ticket()
    for i in range(150):
        zendesk_server.add_comment(ticket["id"], f"c{i}")
    t = zendesk_connector.fetch_ticket(ticket["id"])
    assert len(t.comments) == 151 and t.comments[-1].body == "c149"
    assert zendesk_server.count("GET", "/comments") == 2
