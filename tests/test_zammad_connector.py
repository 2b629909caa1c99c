"""Zammad connector + local Zammad server over real HTTP: webhooks, fetch, apply, error mapping."""
from __future__ import annotations

import json
from pathlib import Path
from datetime import datetime, timedelta, timezone

import pytest

from fixtures_zammad import ZAMMAD_WEBHOOK_SECRET, zammad_receiver, zammad_connector, zammad_server  # noqa: F401
from tiergate.connectors import zammad_webhook
from tiergate.connectors.base import Connector
from tiergate.connectors.zammad import ZammadConnector, from_connection
from tiergate.runtime.config import Settings
from tiergate.plugin.core.errors import (Conflict, InvalidSignature, MissingSignature, NotFound, PayloadError,
                                         RateLimited, Unavailable)
from tiergate.plugin.core.model import Note, TicketUpdate

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)

EXAMPLE = {
    "external_id": "t-1", "subject": "Refund now or we leave", "description": "I was charged twice. Refund 250 EUR.",
    "priority": "high", "status": "open", "type": "incident", "channel": "email", "tags": ["billing"],
    "age_minutes": 120, "group_id": 101, "assignee_id": 201,
    "requester": {"name": "Olga Ivanova", "email": "olga@contoso.example"},
    "organization": {"name": "Contoso", "segment": "vip", "account_value": 48000, "renewal_in_days": 30},
    "comments": [
        {"author": "agent", "body": "Looking into it.", "public": True, "channel": "email", "minutes_ago": 90},
        {"author": "agent", "body": "Internal: check ledger.", "public": False, "channel": "web", "minutes_ago": 80},
        {"author": "customer", "body": "Still nothing. This is unacceptable.", "public": True,
         "channel": "email", "minutes_ago": 10},
    ],
}


def _signed(payload: dict, secret: str = ZAMMAD_WEBHOOK_SECRET, delivery: str = "d-1") -> tuple[dict, bytes]:
    body = json.dumps(payload).encode()
    return zammad_webhook.signed_headers(body, secret, delivery), body


# -- webhook verifier (pure) ----------------------------------------------------------------------
def test_verify_accepts_default_payload_and_uses_delivery_header():
    headers, body = _signed({"ticket": {"id": 42, "group_id": 101}, "article": {"id": 7, "sender": "Customer"}})
    d = zammad_webhook.verify(headers, body, ZAMMAD_WEBHOOK_SECRET, NOW)
    assert (d.ticket_id, d.delivery_id, d.helpdesk, d.received_at) == (42, "d-1", "zammad", NOW)
    assert d.detail["article"]["sender"] == "Customer"


def test_verify_accepts_custom_payload_and_lowercase_headers():
    headers, body = _signed({"ticket_id": "17"})
    headers = {k.lower(): v for k, v in headers.items()}
    assert zammad_webhook.verify(headers, body, ZAMMAD_WEBHOOK_SECRET, NOW).ticket_id == 17


def test_verify_without_delivery_header_hashes_body():
    body = b'{"ticket": {"id": 3}}'
    d = zammad_webhook.verify({"X-Hub-Signature": zammad_webhook.sign(body, "k")}, body, "k", NOW)
    assert d.delivery_id.startswith("sha1-")


@pytest.mark.parametrize("mutate, error", [
    (lambda h, b: ({k: v for k, v in h.items() if k != "X-Hub-Signature"}, b), MissingSignature),
    (lambda h, b: ({**h, "X-Hub-Signature": "sha256=" + "0" * 64}, b), InvalidSignature),
    (lambda h, b: (h, b + b" "), InvalidSignature),
    (lambda h, b: ({**h, "X-Hub-Signature": zammad_webhook.sign(b, "other")}, b), InvalidSignature),
])
def test_verify_rejects_bad_signatures(mutate, error):
    headers, body = _signed({"ticket": {"id": 1}})
    headers, body = mutate(headers, body)
    with pytest.raises(error):
        zammad_webhook.verify(headers, body, ZAMMAD_WEBHOOK_SECRET, NOW)


@pytest.mark.parametrize("payload, field", [
    (b"not json", "body"), (b"[1]", "body"), (b'{"ticket": {}}', "ticket.id"),
    (b'{"ticket": {"id": "abc"}}', "ticket.id"), (b'{"ticket": {"id": 1}, "article": {"internal": "x"}}',
                                                  "article.internal"),
    (b'{"nothing": 1}', "ticket"),
])
def test_verify_names_the_bad_field(payload, field):
    headers = {"X-Hub-Signature": zammad_webhook.sign(payload, "k")}
    with pytest.raises(PayloadError) as exc:
        zammad_webhook.verify(headers, payload, "k", NOW)
    assert exc.value.field == field


def test_connector_is_a_connector(zammad_connector):
    assert isinstance(zammad_connector, Connector)
    headers, body = _signed({"ticket": {"id": 5}})
    assert zammad_connector.verify_delivery(headers, body, NOW).ticket_id == 5


# -- signed deliveries from the local server --------------------------------------------------------
def test_server_delivers_signed_webhooks_on_create_customer_article_and_group_change(
        zammad_server, zammad_connector, zammad_receiver):
    zammad_server.deliver_to(zammad_receiver.url, ZAMMAD_WEBHOOK_SECRET)
    tid = zammad_server.import_example(EXAMPLE, NOW)
    got = zammad_receiver.wait_for(1)
    d = zammad_connector.verify_delivery(got[0]["headers"], got[0]["body"], NOW)
    assert d.ticket_id == tid and got[0]["headers"]["X-Zammad-Trigger"] == "tiergate: ticket created"

    s = zammad_connector.session
    r = s.post(f"{zammad_server.url}/api/v1/ticket_articles",
               json={"ticket_id": tid, "body": "Hello?", "type": "web", "sender": "Customer"})
    assert r.status_code == 201
    r = s.post(f"{zammad_server.url}/api/v1/ticket_articles",      # agent article: no delivery
               json={"ticket_id": tid, "body": "Agent reply", "type": "email"})
    assert r.status_code == 201
    assert s.put(f"{zammad_server.url}/api/v1/tickets/{tid}", json={"group_id": 102}).status_code == 200
    zammad_server.wait_deliveries()
    got = zammad_receiver.wait_for(3)
    assert len(got) == 3
    triggers = [g["headers"]["X-Zammad-Trigger"] for g in got]
    assert triggers == ["tiergate: ticket created", "tiergate: customer article", "tiergate: group changed"]
    ids = {zammad_connector.verify_delivery(g["headers"], g["body"], NOW).delivery_id for g in got}
    assert len(ids) == 3
    assert all(d["status"] == 202 for d in zammad_server.wait_deliveries())


# -- fetch ----------------------------------------------------------------------------------------
def test_fetch_maps_zammad_model(zammad_server, zammad_connector):
    tid = zammad_server.import_example(EXAMPLE, NOW)
    t = zammad_connector.fetch_ticket(tid)
    assert t.subject == EXAMPLE["subject"] and t.description == EXAMPLE["description"]
    assert (t.status, t.priority, t.group_id, t.assignee_id, t.channel, t.type) == (
        "open", "high", 101, 201, "email", "incident")
    assert t.tags == ("billing",)
    assert [(c.author_role, c.public) for c in t.comments] == [
        ("end-user", True), ("agent", True), ("agent", False), ("end-user", True)]
    assert t.comments[-1].created_at == NOW - timedelta(minutes=10)
    assert t.created_at == NOW - timedelta(minutes=120)
    assert t.organization.name == "Contoso" and t.organization.segment == "vip"
    assert t.organization.account_value == 48000.0
    assert t.custom_fields.get("external_id") is None or "external_id" not in t.custom_fields
    assert t.changes == ()


def test_fetch_reports_group_changes_from_history(zammad_server, zammad_connector):
    tid = zammad_server.import_example({**EXAMPLE, "assignee_id": None}, NOW)
    t0 = zammad_connector.fetch_ticket(tid)
    assert t0.assignee_id is None
    zammad_connector.session.put(f"{zammad_server.url}/api/v1/tickets/{tid}", json={"group_id": 103, "state_id": 3})
    t = zammad_connector.fetch_ticket(tid)
    assert [(c.field, c.old, c.new) for c in t.changes] == [("group_id", 101, 103), ("status", "open", "hold")]
    assert t.updated_at > t0.updated_at


# -- apply ----------------------------------------------------------------------------------------
def test_apply_writes_tags_note_and_reassignment_with_suppress_header(zammad_server, zammad_connector):
    tid = zammad_server.import_example(EXAMPLE, NOW)
    before = zammad_connector.fetch_ticket(tid)
    # someone else adds a tag meanwhile through the API: it must survive our write
    zammad_connector.session.post(f"{zammad_server.url}/api/v1/tags/add",
                                  json={"object": "Ticket", "o_id": tid, "item": "vip_watch"})
    before = zammad_connector.fetch_ticket(tid)
    zammad_server.reset_stats()
    body = "Escalated to Tier 2.\n[tiergate:abc123]"
    update = TicketUpdate(add_tags=("tg_risk_churn", "tg_fired_refund"), remove_tags=("billing",),
                          notes=(Note(body=body, fingerprint="abc123"),), group_id=102, assignee_id=202,
                          priority="urgent")
    after = zammad_connector.apply(tid, update, expected_updated_at=before.updated_at, delivery_id="d-9")
    assert set(after.tags) == {"vip_watch", "tg_risk_churn", "tg_fired_refund"}
    assert (after.group_id, after.assignee_id, after.priority) == (102, 202, "urgent")
    note = after.comments[-1]
    assert (note.body, note.public, note.author_role) == (body, False, "agent")
    art = zammad_server.state.articles[note.id]
    assert (art["internal"], art["type"]) == (True, "note")
    writes = [r for r in zammad_server.requests() if r["write"]]
    assert {(r["method"], r["route"]) for r in writes} == {
        ("PUT", "/api/v1/tickets/<int:tid>"), ("POST", "/api/v1/ticket_articles"),
        ("POST", "/api/v1/tags/add"), ("DELETE", "/api/v1/tags/remove")}
    assert all(r["suppress_notifications"] for r in zammad_server.requests())
    assert zammad_server.stats().get("writes_without_suppress", 0) == 0
    assert after.updated_at > before.updated_at


def test_apply_refuses_stale_stamp_without_writing(zammad_server, zammad_connector):
    tid = zammad_server.import_example(EXAMPLE, NOW)
    seen = zammad_connector.fetch_ticket(tid)
    zammad_connector.session.put(f"{zammad_server.url}/api/v1/tickets/{tid}", json={"owner_id": 203})
    zammad_server.reset_stats()
    with pytest.raises(Conflict):
        zammad_connector.apply(tid, TicketUpdate(add_tags=("x",)), expected_updated_at=seen.updated_at,
                               delivery_id="d")
    assert zammad_server.stats().get("writes", 0) == 0


def test_apply_without_urgent_priority_falls_back_to_highest(zammad_server, zammad_connector):
    tid = zammad_server.import_example(EXAMPLE, NOW)
    zammad_connector._reference()
    del zammad_connector._priorities[4]                # a stock Zammad: 1 low, 2 normal, 3 high
    assert zammad_connector.priority_id("urgent") == 3
    t = zammad_connector.apply(tid, TicketUpdate(priority="urgent"), expected_updated_at=None, delivery_id="d")
    assert zammad_server.state.tickets[tid]["priority_id"] == 3 and t.id == tid


def test_apply_many_and_iter_tickets(zammad_server, zammad_connector):
    a = zammad_server.import_example(EXAMPLE, NOW)
    b = zammad_server.import_example({**EXAMPLE, "status": "solved", "external_id": "t-2"}, NOW)
    zammad_connector.apply_many([(a, TicketUpdate(add_tags=("bulk",))), (b, TicketUpdate(add_tags=("bulk",)))],
                                delivery_id="sweep")
    assert [t.id for t in zammad_connector.iter_tickets()] == [a, b]
    assert [t.id for t in zammad_connector.iter_tickets(status=["open"])] == [a]
    assert all("bulk" in t.tags for t in zammad_connector.iter_tickets())
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    assert list(zammad_connector.iter_tickets(updated_since=future)) == []


# -- error translation ----------------------------------------------------------------------------
def test_not_found(zammad_connector):
    with pytest.raises(NotFound):
        zammad_connector.fetch_ticket(999)


def test_rate_limited_carries_retry_after(zammad_server, zammad_connector):
    tid = zammad_server.import_example(EXAMPLE, NOW)
    zammad_server.set_knobs(rate_limit_per_minute=2)
    with pytest.raises(RateLimited) as exc:
        zammad_connector.fetch_ticket(tid)
    assert exc.value.retry_after > 0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_unavailable(zammad_server, zammad_connector, status):
    tid = zammad_server.import_example(EXAMPLE, NOW)
    zammad_server.set_knobs(fail_next=1, fail_status=status)
    with pytest.raises(Unavailable):
        zammad_connector.fetch_ticket(tid)
    assert zammad_connector.fetch_ticket(tid).id == tid


def test_conflict_status_is_conflict(zammad_server, zammad_connector):
    tid = zammad_server.import_example(EXAMPLE, NOW)
    zammad_server.set_knobs(conflict_next=1)
    with pytest.raises(Conflict):
        zammad_connector.apply(tid, TicketUpdate(group_id=103), expected_updated_at=None, delivery_id="d")


def test_timeout_and_refused_connection_are_unavailable(zammad_server):
    slow = ZammadConnector(zammad_server.url, zammad_server.token, timeout=(1.0, 0.2))
    zammad_server.set_knobs(latency_ms=600)
    with pytest.raises(Unavailable):
        slow.fetch_ticket(1)
    zammad_server.set_knobs(latency_ms=0)
    dead = ZammadConnector("http://127.0.0.1:9", "t", timeout=(0.5, 0.5))
    with pytest.raises(Unavailable):
        dead.fetch_ticket(1)


def test_bad_token_is_a_connector_error_not_retryable(zammad_server):
    from tiergate.plugin.core.errors import ConnectorError

    bad = ZammadConnector(zammad_server.url, "wrong")
    with pytest.raises(ConnectorError) as exc:
        bad.fetch_ticket(1)
    assert type(exc.value) is ConnectorError and "401" in str(exc.value)


def test_connection_from_environment_settings_builds_the_connector(monkeypatch, zammad_server):
    monkeypatch.setenv("ZAMMAD_URL", zammad_server.url)
    monkeypatch.setenv("ZAMMAD_TOKEN", zammad_server.token)
    conn = from_connection(Settings.from_env(helpdesk="zammad", webhook_secret="s").connection())
    assert conn.name == "zammad" and conn.webhook_secret == "s"
    monkeypatch.delenv("ZAMMAD_URL")
    with pytest.raises(ValueError, match="ZAMMAD_URL"):
        from_connection(Settings.from_env(helpdesk="zammad").connection())


def test_knobs_over_http_stats_and_reset(zammad_server, zammad_connector):
    import requests

    tid = zammad_server.import_example(EXAMPLE, NOW)
    assert requests.post(f"{zammad_server.url}/_control/knobs", json={"fail_next": 1, "fail_status": 502}).ok
    with pytest.raises(Unavailable):
        zammad_connector.fetch_ticket(tid)
    stats = zammad_server.stats()
    assert stats["by_status"]["502"] == 1 and stats["failed"] == 1
    assert zammad_server.count("GET", "/api/v1/tickets/", 502) == 1
    assert requests.post(f"{zammad_server.url}/_control/knobs", json={"nope": 1}).status_code == 422
    zammad_server.reset()
    assert zammad_server.state.tickets == {} and zammad_server.stats()["total"] == 0
    assert sorted(zammad_server.state.groups) == [100, 101, 102, 103, 104, 110, 111, 112, 113, 114,
                                                  115, 116]
    assert zammad_server.import_example(EXAMPLE, NOW) == 1


def test_several_notes_become_one_internal_article(zammad_server, zammad_connector):
    tid = zammad_server.import_example(EXAMPLE, NOW)
    notes = (Note(body="Handoff.\n[tiergate:aaa]", fingerprint="aaa"),
             Note(body="Outreach.\n[tiergate:bbb]", public=True, fingerprint="bbb"))
    after = zammad_connector.apply(tid, TicketUpdate(notes=notes), expected_updated_at=None, delivery_id="d")
    note = after.comments[-1]
    assert note.body == "Handoff.\n[tiergate:aaa]\n\nOutreach.\n[tiergate:bbb]" and note.public is False
    assert zammad_server.count("POST", "ticket_articles") == 1


# -- Zammad's real shapes (tests/fixtures/zammad, see SOURCES.md there) ---------------------------
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "zammad"
HISTORY_KEYS = {"id", "o_id", "type", "object", "attribute", "related_o_id", "related_object",
                "value_from", "value_to", "id_from", "id_to", "created_at", "created_by_id"}
GROUP_CHANGED = datetime(2026, 11, 25, 11, 0, tzinfo=timezone.utc)     # entry 906 of the fixture


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


def real_shape_ticket(connector: ZammadConnector):
    return connector.to_ticket(fixture("ticket.json"), fixture("ticket_articles.json"),
                               fixture("tags.json")["tags"], fixture("ticket_history.json")["history"], None)


def test_fixture_history_has_only_the_keys_zammad_renders():
    for entry in fixture("ticket_history.json")["history"]:
        assert set(entry) <= HISTORY_KEYS, entry
        assert {"type", "object", "o_id", "created_at"} <= set(entry)


def test_real_history_becomes_changes(zammad_connector):
    t = real_shape_ticket(zammad_connector)
    assert [(c.field, c.old, c.new, c.at.isoformat(), c.author_id) for c in t.changes] == [
        ("status", "new", "open", "2026-11-24T09:30:00+00:00", 201),
        ("assignee_id", None, 201, "2026-11-24T09:30:00+00:00", 201),
        ("group_id", 101, 102, GROUP_CHANGED.isoformat(), 201),
        ("priority", "normal", "high", GROUP_CHANGED.isoformat(), 201),
        ("assignee_id", 201, None, GROUP_CHANGED.isoformat(), 201)]
    assert (t.group_id, t.status, t.priority, t.assignee_id, t.channel) == (102, "open", "high", None, "email")
    assert t.custom_fields == {"region": "emea"}
    assert t.comments[0].body == "I was charged twice.\nRefund 250 EUR, please."
    assert t.comments[1].attachments == ("invoice.pdf",) and t.comments[1].channel == "web"
    assert t.tags == ("billing",)


def test_local_server_history_has_zammads_keys_and_reads_back(zammad_server, zammad_connector):
    tid = zammad_server.import_example({**EXAMPLE, "assignee_id": None}, NOW)
    s = zammad_connector.session
    assert s.put(f"{zammad_server.url}/api/v1/tickets/{tid}",
                 json={"group_id": 102, "owner_id": 202, "priority_id": 4}).status_code == 200
    s.post(f"{zammad_server.url}/api/v1/tags/add", json={"object": "Ticket", "o_id": tid, "item": "vip"})
    body = s.get(f"{zammad_server.url}/api/v1/ticket_history/{tid}").json()
    assert set(body) == {"history", "assets"}
    rows = body["history"]
    assert all(set(h) <= HISTORY_KEYS for h in rows), rows
    by_attr = {h.get("attribute"): h for h in rows if h["type"] == "updated"}
    assert by_attr["group"]["value_to"] == "Tier 2 Specialists" and by_attr["group"]["id_to"] == 102
    assert by_attr["owner"]["value_from"] == "-" and by_attr["owner"]["value_to"] == "Ben Specialist"
    assert by_attr["priority"]["value_to"] == "4 urgent"
    assert any(h["type"] == "added" and h["attribute"] == "tag" and h["value_to"] == "vip" for h in rows)
    articles = [h for h in rows if h["object"] == "Ticket::Article"]
    assert articles and all(h["related_object"] == "Ticket" and h["related_o_id"] == tid for h in articles)
    t = zammad_connector.fetch_ticket(tid)
    assert [(c.field, c.old, c.new) for c in t.changes] == [
        ("group_id", 101, 102), ("assignee_id", None, 202), ("priority", "high", "urgent")]


def test_verify_reads_zammads_trigger_payload():
    payload = fixture("webhook_payload.json")
    headers, body = _signed(payload, delivery="6e1c3f6a-4a8c-4ce5-9a55-0d0a3c2b6f11")
    headers[zammad_webhook.TRIGGER_HEADER] = "tiergate: customer article"
    d = zammad_webhook.verify(headers, body, ZAMMAD_WEBHOOK_SECRET, NOW)
    assert (d.ticket_id, d.delivery_id) == (42, "6e1c3f6a-4a8c-4ce5-9a55-0d0a3c2b6f11")
    assert d.detail["group_id"] == 102 and d.detail["trigger"] == "tiergate: customer article"
    assert d.detail["article"] == {"id": 513, "sender": "Customer", "internal": False, "type": "web"}
    no_article = {**payload, "article": {}}
    headers, body = _signed(no_article)
    assert zammad_webhook.verify(headers, body, ZAMMAD_WEBHOOK_SECRET, NOW).detail.get("article") is None


def test_local_server_payload_has_zammads_shape(zammad_server, zammad_connector, zammad_receiver):
    zammad_server.deliver_to(zammad_receiver.url, ZAMMAD_WEBHOOK_SECRET)
    tid = zammad_server.import_example(EXAMPLE, NOW)
    got = zammad_receiver.wait_for(1)[0]
    assert got["headers"]["User-Agent"] == "Zammad User Agent"
    assert got["headers"]["X-Hub-Signature"] == zammad_webhook.sign(got["body"], ZAMMAD_WEBHOOK_SECRET)
    local, real = json.loads(got["body"]), fixture("webhook_payload.json")
    for key in ("owner", "customer", "created_by", "updated_by", "organization", "priority", "group"):
        assert isinstance(local["ticket"][key], dict) and isinstance(real["ticket"][key], dict), key
    assert local["ticket"]["id"] == tid and local["ticket"]["state"] == "open"
    assert local["ticket"]["priority"]["name"] == "3 high" and local["ticket"]["group"]["id"] == 101
    assert "password" not in local["ticket"]["customer"] and "group_ids" not in local["ticket"]["owner"]
    assert {"sender", "type", "internal", "created_by", "accounted_time"} <= set(local["article"])
    assert isinstance(local["article"]["created_by"], dict)


@pytest.mark.parametrize("hours_since_change, fires", [(25, True), (1, False)])
def test_time_in_tier_runs_on_real_history(zammad_connector, hours_since_change, fires):
    """The in-tier timer reads the group change from Zammad's history: changed 25 h ago it fires,
    changed 1 h ago it does not and is planned for the 24 h mark."""
    from test_manifest_base import base_doc

    from tiergate.plugin.core.decide import decide
    from tiergate.plugin.core.manifest import load_manifest
    from tiergate.plugin.simulate import neutral_enrichment

    doc = base_doc()
    doc["triggers"] = [{"name": "stuck_in_tier", "conditions": {"all": [
        {"field": "time_in_tier", "operator": "greater_than", "value": 24, "unit": "hours"}]},
        "actions": [{"action": "add_tags", "tags": ["stuck"]}]},
        {"name": "moved_twice", "conditions": {"all": [
            {"field": "handoffs", "operator": "greater_than", "value": 0}]},
         "actions": [{"action": "add_tags", "tags": ["moved"]}]}]
    manifest = load_manifest(doc)
    ticket = real_shape_ticket(zammad_connector)
    now = GROUP_CHANGED + timedelta(hours=hours_since_change)
    d = decide(ticket, neutral_enrichment(ticket, now), manifest, now)
    fired = {f.name for f in d.fired}
    assert "moved_twice" in fired                      # the 101 -> 102 move counts as a handoff
    assert ("stuck_in_tier" in fired) is fires
    if not fires:
        due = [tm.at for tm in d.timers if tm.kind == "trigger" and tm.name == "stuck_in_tier"]
        assert due == [GROUP_CHANGED + timedelta(hours=24, seconds=1)]    # "greater than" 24 h


def test_custom_attributes_need_an_object_attribute_like_in_zammad(zammad_server, zammad_connector):
    """A write of a key that is no ticket column and no (migrated) object attribute is dropped, as
    Zammad's param_cleanup does; once the attribute exists the connector reads and writes it."""
    tid = zammad_server.import_example(EXAMPLE, NOW)
    s, base = zammad_connector.session, f"{zammad_server.url}/api/v1"
    assert s.put(f"{base}/tickets/{tid}", json={"tg_attention": 80}).status_code == 200
    assert "tg_attention" not in zammad_server.state.tickets[tid]
    res = s.post(f"{base}/object_manager_attributes", json={
        "object": "Ticket", "name": "tg_attention", "display": "tiergate attention", "data_type": "integer",
        "data_option": {"min": 0, "max": 100, "default": None}, "screens": {}, "position": 1600})
    assert res.status_code == 201 and res.json()["to_create"] is True
    assert set(res.json()) == set(fixture("object_manager_attribute.json"))
    assert res.json()["position"] == 1550
    s.put(f"{base}/tickets/{tid}", json={"tg_attention": 80})
    assert "tg_attention" not in zammad_server.state.tickets[tid]        # not migrated yet
    assert s.post(f"{base}/object_manager_attributes_execute_migrations").status_code == 200
    zammad_connector.apply(tid, TicketUpdate(custom_fields={"tg_attention": 80}), expected_updated_at=None,
                           delivery_id="d")
    assert zammad_connector.fetch_ticket(tid).custom_fields == {"tg_attention": 80}
    names = [a["name"] for a in s.get(f"{base}/object_manager_attributes").json()]
    assert names == ["external_id", "tg_attention"]
    bad = s.post(f"{base}/object_manager_attributes", json={"object": "Ticket", "name": "group_id",
                                                            "data_type": "input"})
    assert bad.status_code == 422 and "reserved" in bad.text


def test_ticket_update_takes_names_like_zammad(zammad_server, zammad_connector):
    """Zammad converts ``state`` / ``priority`` / ``group`` names and ``owner`` logins to ids."""
    tid = zammad_server.import_example(EXAMPLE, NOW)
    s, url = zammad_connector.session, f"{zammad_server.url}/api/v1/tickets/{tid}"
    assert s.put(url, json={"state": "pending reminder", "owner": "ben@agents.example",
                            "group": "Tier 2 Specialists"}).status_code == 200
    t = zammad_server.state.tickets[tid]
    assert (t["state_id"], t["owner_id"], t["group_id"]) == (3, 202, 102)
    bad = s.put(url, json={"priority": "9 nope"})
    assert bad.status_code == 422 and "No lookup value found for 'priority'" in bad.text
