"""The local Zendesk-compatible server: auth, shapes, safe updates, knobs, triggers and signed
webhook deliveries to a real receiver, import of the demo examples."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from tiergate.connectors import zendesk_webhook as zw
from tiergate.localdesk.zendesk.account import BOT_ID, DEFAULT_AGENTS, DEFAULT_GROUPS, TEST_SIGNING_SECRET
from tiergate.plugin.core.model import parse_time


def api(server, method, path, **kwargs):
    return requests.request(method, f"{server.url}/api/v2/{path}", auth=(f"{server.email}/token", server.token),
                            timeout=10, **kwargs)


def install(server, endpoint: str, triggers=None, subscriptions=("conditional_ticket_events",)) -> tuple[str, str]:
    """What an installer does: webhook, its signing secret, triggers calling it."""
    hook = api(server, "POST", "webhooks", json={"webhook": {
        "name": "tiergate", "status": "active", "endpoint": endpoint, "http_method": "POST",
        "request_format": "json", "subscriptions": list(subscriptions)}})
    assert hook.status_code == 201
    hook_id = hook.json()["webhook"]["id"]
    secret = api(server, "GET", f"webhooks/{hook_id}/signing_secret").json()["signing_secret"]["secret"]
    for title, conditions in (triggers or []):
        r = api(server, "POST", "triggers", json={"trigger": {
            "title": title, "conditions": {"all": conditions, "any": []},
            "actions": [{"field": "notification_webhook", "value": [hook_id, '{"ticket_id": "{{ticket.id}}"}']}]}})
        assert r.status_code == 201
    return hook_id, secret


DEMO_TRIGGERS = [
    ("created", [{"field": "update_type", "operator": "is", "value": "Create"}]),
    ("customer comment", [{"field": "update_type", "operator": "is", "value": "Change"},
                          {"field": "comment_is_public", "operator": "is", "value": "true"},
                          {"field": "current_via_id", "operator": "is_not", "value": "5"}]),
    ("group changed", [{"field": "group_id", "operator": "changed"}]),
]
INSTALLER_TRIGGERS = [       # plugin/install.py's variant: "current user is end-user"
    ("customer comment", [{"field": "update_type", "operator": "is", "value": "Change"},
                          {"field": "role", "operator": "is", "value": "end_user"},
                          {"field": "comment_is_public", "operator": "is", "value": "true"}]),
]


def verified(received: dict, secret: str):
    return zw.verify(received["headers"], received["body"], secret, datetime.now(timezone.utc))


def test_auth_required(zendesk_server):
    r = requests.get(f"{zendesk_server.url}/api/v2/tickets/1.json", auth=("x/token", "bad"), timeout=5)
    assert r.status_code == 401 and r.json()["error"]
    assert requests.get(f"{zendesk_server.url}/api/v2/groups.json", timeout=5).status_code == 401
    assert zendesk_server.count(status=401) == 2


def test_default_seed_and_shapes(zendesk_server):
    groups = {g["id"]: g["name"] for g in api(zendesk_server, "GET", "groups.json").json()["groups"]}
    assert groups == dict(DEFAULT_GROUPS)
    users = api(zendesk_server, "GET", "users/show_many.json", params={"ids": "201,211,299"}).json()["users"]
    assert [(u["id"], u["role"], u["default_group_id"]) for u in users] == [
        (201, "agent", 101), (211, "agent", 111), (BOT_ID, "admin", None)]
    assert len(DEFAULT_AGENTS) == 11
    r = api(zendesk_server, "POST", "tickets.json", json={"ticket": {
        "subject": "Hi", "comment": {"body": "Hello"}, "requester": {"name": "A", "email": "a@x.example"}}})
    assert r.status_code == 201
    ticket = r.json()["ticket"]
    for key in ("id", "url", "via", "created_at", "updated_at", "subject", "description", "status", "tags",
                "custom_fields", "requester_id", "submitter_id", "group_id", "satisfaction_rating"):
        assert key in ticket
    assert r.json()["audit"]["events"][0]["type"] == "Comment"
    assert api(zendesk_server, "GET", f"tickets/{ticket['id']}").json()["ticket"]["id"] == ticket["id"]
    found = api(zendesk_server, "GET", "users/search.json", params={"query": "a@x.example"}).json()["users"]
    assert [u["id"] for u in found] == [ticket["requester_id"]]


def test_safe_update_over_http_and_unique_stamps(zendesk_server):
    tid = zendesk_server.seed_ticket()["id"]
    stamp = zendesk_server.state.ticket(tid)["updated_at"]
    stamps = [stamp]
    for i in range(10):
        r = api(zendesk_server, "PUT", f"tickets/{tid}.json",
                json={"ticket": {"tags": [f"t{i}"], "safe_update": True, "updated_stamp": stamps[-1]}})
        assert r.status_code == 200
        stamps.append(r.json()["ticket"]["updated_at"])
    assert len(set(stamps)) == 11
    assert [parse_time(s) for s in stamps] == sorted(parse_time(s) for s in stamps)
    r = api(zendesk_server, "PUT", f"tickets/{tid}.json",
            json={"ticket": {"priority": "low", "safe_update": True, "updated_stamp": stamps[-2]}})
    assert r.status_code == 409 and r.json()["error"] == "UpdateConflict"
    assert zendesk_server.state.ticket(tid)["priority"] is None
    r = api(zendesk_server, "PUT", f"tickets/{tid}.json", json={"ticket": {"group_id": 4242}})
    assert r.status_code == 422
    r = api(zendesk_server, "PUT", f"tickets/{tid}.json", json={"ticket": {"priority": "critical"}})
    assert r.status_code == 422 and "priority" in r.json()["description"]
    assert api(zendesk_server, "PUT", "tickets/9999.json", json={"ticket": {}}).status_code == 404


def test_tags_endpoints_and_audits(zendesk_server):
    tid = zendesk_server.seed_ticket(tags=["a"])["id"]
    assert api(zendesk_server, "PUT", f"tickets/{tid}/tags.json", json={"tags": ["b"]}).json()["tags"] == ["a", "b"]
    assert api(zendesk_server, "DELETE", f"tickets/{tid}/tags.json", json={"tags": ["a"]}).json()["tags"] == ["b"]
    assert api(zendesk_server, "POST", f"tickets/{tid}/tags.json", json={"tags": ["z"]}).json()["tags"] == ["z"]
    audits = api(zendesk_server, "GET", f"tickets/{tid}/audits.json").json()["audits"]
    tag_changes = [e for a in audits for e in a["events"] if e.get("field_name") == "tags" and e["type"] == "Change"]
    assert [e["value"] for e in tag_changes] == [["a", "b"], ["b"], ["z"]]


def test_rate_limit_knob_headers_and_window(zendesk_server):
    zendesk_server.set_knobs(rate_limit_per_minute=3)
    codes = [api(zendesk_server, "GET", "groups.json") for _ in range(4)]
    assert [r.status_code for r in codes] == [200, 200, 200, 429]
    assert codes[0].headers["X-Rate-Limit"] == "3" and codes[1].headers["X-Rate-Limit-Remaining"] == "1"
    assert 1 <= int(codes[3].headers["Retry-After"]) <= 60
    assert codes[3].headers["X-Rate-Limit-Remaining"] == "0"


def test_knobs_over_http_fail_next_and_latency(zendesk_server):
    r = requests.post(f"{zendesk_server.url}/_control/knobs", json={"fail_next": 2, "fail_status": 502}, timeout=5)
    assert r.json()["fail_next"] == 2
    assert [api(zendesk_server, "GET", "groups").status_code for _ in range(3)] == [502, 502, 200]
    assert requests.post(f"{zendesk_server.url}/_control/knobs", json={"nope": 1}, timeout=5).status_code == 400
    zendesk_server.set_knobs(latency_ms=150)
    started = time.monotonic()
    api(zendesk_server, "GET", "groups")
    assert time.monotonic() - started >= 0.15
    zendesk_server.set_knobs(latency_ms=0, fail_rate=1.0)
    assert api(zendesk_server, "GET", "groups").status_code == 502
    stats = requests.get(f"{zendesk_server.url}/_control/stats", timeout=5).json()
    assert stats["by_endpoint"]["GET /api/v2/groups"]["502"] == 3


def test_trigger_webhook_on_api_create_is_signed_like_zendesk(zendesk_server, webhook_receiver):
    hook_id, secret = install(zendesk_server, webhook_receiver.url, DEMO_TRIGGERS)
    r = api(zendesk_server, "POST", "tickets.json", json={"ticket": {
        "subject": "Down", "comment": {"body": "all down"}, "requester": {"name": "C", "email": "c@x.example"}}})
    tid = r.json()["ticket"]["id"]
    [got] = webhook_receiver.wait(1)
    assert got["headers"]["User-Agent"] == "Zendesk Webhook"
    assert got["headers"]["X-Zendesk-Webhook-Id"] == hook_id
    assert json.loads(got["body"]) == {"ticket_id": str(tid)}
    d = verified(got, secret)
    assert d.ticket_id == tid and d.event_type == "trigger"
    assert d.delivery_id == got["headers"]["X-Zendesk-Webhook-Invocation-Id"]
    with pytest.raises(zw.InvalidSignature):
        verified(got, "wrong-secret")
    assert zendesk_server.wait_deliveries(5)
    assert [x["ok"] for x in zendesk_server.deliveries()] == [True]


def test_customer_comment_and_group_change_fire_but_private_api_note_does_not(zendesk_server, webhook_receiver):
    install(zendesk_server, webhook_receiver.url, DEMO_TRIGGERS)
    tid = zendesk_server.seed_ticket("Q", "question", group_id=101)["id"]       # seeding runs no triggers
    zendesk_server.add_comment(tid, "any news??")                               # end-user, public, web
    assert len(webhook_receiver.wait(1)) == 1
    stamp = zendesk_server.state.ticket(tid)["updated_at"]
    r = api(zendesk_server, "PUT", f"tickets/{tid}.json", json={"ticket": {
        "comment": {"body": "internal", "public": False}, "safe_update": True, "updated_stamp": stamp}})
    assert r.status_code == 200
    assert zendesk_server.wait_deliveries(5)
    time.sleep(0.2)
    assert len(webhook_receiver.received) == 1
    zendesk_server.update_ticket(tid, group_id=102)
    got = webhook_receiver.wait(2)
    assert len(got) == 2 and json.loads(got[1]["body"]) == {"ticket_id": str(tid)}


def test_inactive_trigger_and_webhook_send_nothing(zendesk_server, webhook_receiver):
    hook_id, _ = install(zendesk_server, webhook_receiver.url, DEMO_TRIGGERS[:1])
    assert api(zendesk_server, "PATCH", f"webhooks/{hook_id}", json={"webhook": {"status": "inactive"}}).status_code == 204
    api(zendesk_server, "POST", "tickets.json", json={"ticket": {"subject": "x", "comment": {"body": "y"}}})
    assert zendesk_server.wait_deliveries(5)
    time.sleep(0.1)
    assert webhook_receiver.received == []


def test_event_subscribed_webhook_payload_parses(zendesk_server, webhook_receiver):
    _, secret = install(zendesk_server, webhook_receiver.url, subscriptions=(
        "zen:event-type:ticket.created", "zen:event-type:ticket.comment_added",
        "zen:event-type:ticket.group_assignment_changed"))
    r = api(zendesk_server, "POST", "tickets.json", json={"ticket": {
        "subject": "S", "comment": {"body": "b"}, "group_id": 101, "requester": {"name": "E", "email": "e@x.example"}}})
    tid = r.json()["ticket"]["id"]
    zendesk_server.update_ticket(tid, group_id=103)
    got = webhook_receiver.wait(2)
    deliveries = [verified(g, secret) for g in got]
    assert {d.event_type for d in deliveries} == {"zen:event-type:ticket.created",
                                                   "zen:event-type:ticket.group_assignment_changed"}
    assert all(d.ticket_id == tid for d in deliveries)
    assert len({d.delivery_id for d in deliveries}) == 2
    change = json.loads(next(g["body"] for g in got if b"group_assignment" in g["body"]))
    assert change["event"] == {"current": "103", "previous": "101"} and change["detail"]["id"] == str(tid)


def test_failed_deliveries_are_retried(zendesk_server, webhook_receiver):
    install(zendesk_server, webhook_receiver.url, DEMO_TRIGGERS[:1])
    zendesk_server.set_knobs(delivery_backoff=0.05)
    webhook_receiver.statuses.extend([500, 503])
    api(zendesk_server, "POST", "tickets.json", json={"ticket": {"subject": "x", "comment": {"body": "y"}}})
    got = webhook_receiver.wait(3)
    assert len(got) == 3
    assert zendesk_server.wait_deliveries(5)
    [d] = zendesk_server.deliveries()
    assert d["attempts"] == 3 and d["ok"] and d["status"] == 200
    assert len({g["headers"]["X-Zendesk-Webhook-Invocation-Id"] for g in got}) == 1


def test_redeliver_over_control_endpoint(zendesk_server, webhook_receiver):
    install(zendesk_server, webhook_receiver.url, DEMO_TRIGGERS)          # three triggers, one webhook
    tid = zendesk_server.seed_ticket()["id"]
    r = requests.post(f"{zendesk_server.url}/_control/deliver/{tid}", json={}, timeout=5)
    assert r.json() == {"queued": 1}
    assert json.loads(webhook_receiver.wait(1)[0]["body"]) == {"ticket_id": str(tid)}
    assert zendesk_server.deliver(tid) == 1
    assert len(webhook_receiver.wait(2)) == 2


def test_webhook_test_endpoint_uses_the_fixed_test_secret(zendesk_server, webhook_receiver):
    r = api(zendesk_server, "POST", "webhooks/test", json={"request": {
        "endpoint": webhook_receiver.url, "http_method": "POST", "request_format": "json",
        "payload": '{"ticket_id": "77"}'}})
    assert r.json()["response"]["status_code"] == 200      # Zendesk: headers, status_code, payload
    [got] = webhook_receiver.wait(1)
    assert verified(got, TEST_SIGNING_SECRET).ticket_id == 77


def test_import_example_keeps_timestamps_and_creates_people(zendesk_server, webhook_receiver):
    install(zendesk_server, webhook_receiver.url, DEMO_TRIGGERS)
    now = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
    example = {"external_id": "demo-1", "subject": "Invoices", "description": "Export?", "priority": "low",
               "status": "new", "type": "question", "channel": "email", "tags": ["billing"], "age_minutes": 45,
               "group_id": 101, "assignee_id": None,
               "requester": {"name": "Priya", "email": "priya@northwind.example"},
               "organization": {"name": "Northwind", "segment": "smb", "account_value": 1200, "renewal_in_days": 200},
               "comments": [{"author": "agent", "body": "Sure", "public": True, "channel": "web", "minutes_ago": 30},
                            {"author": "customer", "body": "Thanks", "public": True, "channel": "email",
                             "minutes_ago": 5}]}
    tid = zendesk_server.import_example(example, now)
    t = zendesk_server.state.ticket(tid)
    assert parse_time(t["created_at"]) == now - timedelta(minutes=45)
    assert parse_time(t["updated_at"]) >= now - timedelta(minutes=5)
    comments = zendesk_server.state.comments[tid]
    assert [parse_time(c["created_at"]) for c in comments] == [now - timedelta(minutes=m) for m in (45, 30, 5)]
    assert [zendesk_server.state.role_of(c["author_id"]) for c in comments] == ["end-user", "agent", "end-user"]
    assert comments[1]["author_id"] == 201          # the group's agent when none is assigned
    org = zendesk_server.state.organizations[t["organization_id"]]
    assert org["organization_fields"] == {"segment": "smb", "account_value": 1200, "renewal_date": "2026-09-18"}
    assert (t["via"]["channel"], t["external_id"], t["tags"]) == ("email", "demo-1", ["billing"])
    assert json.loads(webhook_receiver.wait(1)[0]["body"]) == {"ticket_id": str(tid)}
    second = zendesk_server.import_example({**example, "external_id": "demo-2"}, now, deliver=False)
    assert zendesk_server.state.ticket(second)["requester_id"] == t["requester_id"]
    assert zendesk_server.state.ticket(second)["organization_id"] == t["organization_id"]
    r = api(zendesk_server, "POST", "imports/tickets.json", json={"ticket": {
        "subject": "old", "requester_id": t["requester_id"], "created_at": "2020-01-01T00:00:00Z",
        "comments": [{"author_id": t["requester_id"], "value": "from 2020", "created_at": "2020-01-01T00:00:00Z"}]}})
    assert r.status_code == 201 and r.json()["ticket"]["created_at"] == "2020-01-01T00:00:00Z"
    assert zendesk_server.wait_deliveries(5)
    assert len(webhook_receiver.received) == 1       # API imports run no triggers


def test_imported_thread_is_read_back_in_time_order_page_by_page(zendesk_server):
    """Comments arrive out of order (a mail client's late sync): the comments and audits
    endpoints answer in ``created_at`` order, 100 per page, and a deleted ticket takes its
    thread with it."""
    user = zendesk_server.state.add_user("Out Of Order", "ooo@x.example")
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    minutes = [(i * 37) % 250 for i in range(250)]              # every minute 0..249, shuffled
    r = api(zendesk_server, "POST", "imports/tickets.json", json={"ticket": {
        "subject": "sync", "requester_id": user["id"], "created_at": base.isoformat(),
        "comments": [{"author_id": user["id"], "value": f"m{m}",
                      "created_at": (base + timedelta(minutes=m)).isoformat()} for m in minutes]}})
    tid = r.json()["ticket"]["id"]
    bodies, url = [], f"tickets/{tid}/comments.json"
    while url:
        page = api(zendesk_server, "GET", url).json()
        bodies += [c["body"] for c in page["comments"]]
        url = page["next_page"] and page["next_page"].split("/api/v2/", 1)[1]
    assert bodies == [f"m{m}" for m in range(250)]
    audits = api(zendesk_server, "GET", f"tickets/{tid}/audits.json", params={"per_page": 100}).json()
    stamps = [a["created_at"] for a in audits["audits"]]
    assert len(stamps) == 100 and stamps == sorted(stamps)
    zendesk_server.delete_ticket(tid)
    assert api(zendesk_server, "GET", f"tickets/{tid}/comments.json").status_code == 404
    assert tid not in zendesk_server.state.comments and tid not in zendesk_server.state.audits


def test_a_finished_delivery_keeps_its_record_but_not_its_body(zendesk_server, webhook_receiver):
    install(zendesk_server, webhook_receiver.url, DEMO_TRIGGERS)
    api(zendesk_server, "POST", "tickets.json", json={"ticket": {
        "subject": "Down", "comment": {"body": "all down " * 1000},
        "requester": {"name": "C", "email": "c@x.example"}}})
    webhook_receiver.wait(1)
    assert zendesk_server.wait_deliveries(5)
    [record] = zendesk_server.deliveries()
    assert record["ok"] and record["body"] is None


@pytest.mark.parametrize("path, key, body", [
    ("triggers", "trigger", {"title": "t", "conditions": {"all": [], "any": []}, "actions": []}),
    ("ticket_fields", "ticket_field", {"type": "tagger", "title": "Tier"}),
    ("slas/policies", "sla_policy", {"title": "VIP", "filter": {"all": [], "any": []},
                                     "policy_metrics": [{"priority": "urgent", "metric": "first_reply_time",
                                                         "target": 10, "business_hours": False}]}),
    ("business_hours/schedules", "schedule", {"name": "EU", "time_zone": "Europe/Berlin",
                                              "intervals": [{"start_time": 1980, "end_time": 2460}]}),
])
def test_admin_collections_crud(zendesk_server, path, key, body):
    created = api(zendesk_server, "POST", path, json={key: body})
    assert created.status_code == 201
    oid = created.json()[key]["id"]
    listed = api(zendesk_server, "GET", path).json()
    assert [o["id"] for o in next(v for v in listed.values() if isinstance(v, list))] == [oid]
    updated = api(zendesk_server, "PUT", f"{path}/{oid}", json={key: {"title": "renamed"}})
    assert updated.status_code == 200 and updated.json()[key]["title"] == "renamed"
    assert api(zendesk_server, "GET", f"{path}/{oid}").json()[key]["title"] == "renamed"
    assert api(zendesk_server, "DELETE", f"{path}/{oid}").status_code == 204
    assert api(zendesk_server, "GET", f"{path}/{oid}").status_code == 404


def test_update_many_job_status_and_limit(zendesk_server):
    ids = [zendesk_server.seed_ticket()["id"] for _ in range(2)]
    r = api(zendesk_server, "PUT", "tickets/update_many.json", params={"ids": ",".join(map(str, ids))},
            json={"ticket": {"additional_tags": ["bulk"], "priority": "high"}})
    job = r.json()["job_status"]
    assert job["status"] == "queued"
    done = api(zendesk_server, "GET", f"job_statuses/{job['id']}.json").json()["job_status"]
    assert done["status"] == "completed" and [x["id"] for x in done["results"]] == ids
    assert all(zendesk_server.state.ticket(i)["priority"] == "high" for i in ids)
    too_many = api(zendesk_server, "PUT", "tickets/update_many.json",
                   json={"tickets": [{"id": i} for i in range(101)]})
    assert too_many.status_code == 400 and too_many.json()["error"] == "TooManyValues"


def test_search_incremental_and_satisfaction(zendesk_server):
    a = zendesk_server.seed_ticket("alpha", "x", status="open")["id"]
    b = zendesk_server.seed_ticket("beta", "x", status="solved")["id"]
    results = api(zendesk_server, "GET", "search.json", params={"query": "type:ticket status<solved"}).json()["results"]
    assert [r["id"] for r in results] == [a] and results[0]["result_type"] == "ticket"
    inc = api(zendesk_server, "GET", "incremental/tickets.json", params={"start_time": 0}).json()
    assert [t["id"] for t in inc["tickets"]] == [a, b] and inc["end_of_stream"] is True
    r = api(zendesk_server, "POST", f"tickets/{b}/satisfaction_rating.json",
            json={"satisfaction_rating": {"score": "good", "comment": "thanks"}})
    assert r.json()["satisfaction_rating"]["score"] == "good"
    assert zendesk_server.state.ticket(b)["satisfaction_rating"]["score"] == "good"
    assert len(api(zendesk_server, "GET", "satisfaction_ratings").json()["satisfaction_ratings"]) == 1


def test_reset_between_tests_is_clean(zendesk_server):
    assert zendesk_server.state.tickets == {} and zendesk_server.stats()["total"] == 0
    assert zendesk_server.state.knobs["rate_limit_per_minute"] is None


def test_stats_rows_split_into_method_rule_status(zendesk_server):
    tid = zendesk_server.seed_ticket()["id"]
    api(zendesk_server, "GET", f"tickets/{tid}.json")
    api(zendesk_server, "GET", "tickets/999.json")
    rows = zendesk_server.stats()["requests"]
    parsed = {tuple(k.split(" ", 2)): n for k, n in rows.items()}
    assert parsed == {("GET", "/api/v2/tickets/<int:ticket_id>", "200"): 1,
                      ("GET", "/api/v2/tickets/<int:ticket_id>", "404"): 1}


def test_deleted_ticket_answers_404(zendesk_server):
    tid = zendesk_server.seed_ticket()["id"]
    zendesk_server.delete_ticket(tid)
    assert api(zendesk_server, "GET", f"tickets/{tid}.json").status_code == 404


def test_schedule_holidays(zendesk_server):
    sid = api(zendesk_server, "POST", "business_hours/schedules", json={"schedule": {
        "name": "EU", "time_zone": "Europe/Berlin", "intervals": []}}).json()["schedule"]["id"]
    r = api(zendesk_server, "POST", f"business_hours/schedules/{sid}/holidays", json={"holiday": {
        "name": "New Year", "start_date": "2026-01-01", "end_date": "2026-01-01"}})
    assert r.status_code == 201
    assert [h["name"] for h in api(zendesk_server, "GET", f"business_hours/schedules/{sid}/holidays").json()["holidays"]] \
        == ["New Year"]
    assert api(zendesk_server, "GET", "business_hours/schedules/999/holidays").status_code == 404


def test_role_condition_is_the_updating_user(zendesk_server, webhook_receiver):
    install(zendesk_server, webhook_receiver.url, INSTALLER_TRIGGERS)
    tid = zendesk_server.seed_ticket()["id"]
    zendesk_server.add_comment(tid, "public agent reply", author_id=201)        # agent: no
    zendesk_server.update_ticket(tid, author_id=zendesk_server.state.ticket(tid)["requester_id"], priority="high")
    zendesk_server.add_comment(tid, "customer again")                            # end-user + public: yes
    got = webhook_receiver.wait(1)
    assert zendesk_server.wait_deliveries(5)
    time.sleep(0.1)
    assert len(webhook_receiver.received) == 1 and json.loads(got[0]["body"]) == {"ticket_id": str(tid)}
    assert zendesk_server.deliveries()[0]["event"] == "trigger:customer comment"
