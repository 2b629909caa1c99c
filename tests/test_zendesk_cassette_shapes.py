"""The local Zendesk answers like the real one: for each endpoint tiergate uses, the same request
is made to the local server and its JSON must have the shape of the recorded Zendesk answer
(``tests/cassettes/zendesk``): the same keys, the same JSON kinds, stamps in whole seconds,
the same pagination keys. ``EXPLAINED`` lists the few differences left, each with its reason."""
from __future__ import annotations

import base64

import pytest
import requests

import cassette_support as cs

T = "TestTicketCreateUpdateDelete."
# Keys the recordings have that the local server leaves out (or adds), none of them read by tiergate.
NOT_READ = {
    "$.audit.metadata.system": "geo-IP and client of the caller (Zendesk fills it for API writes only)",
    "$.audits[].metadata.system": "geo-IP and client of the caller",
    "$.comments[].metadata.system": "geo-IP and client of the caller",
    "$.comments[].via.source.to": "the recipient of an email-like channel",
    "$.user.authenticity_token": "answered by /users/me only (a session token), compared with /users/{id}",
    "$.tickets[].fields": "the cursor list leaves it out; the local server answers it everywhere",
}


def api(server, method, path, **kwargs):
    return requests.request(method, f"{server.url}/api/v2/{path}", auth=(f"{server.email}/token", server.token),
                            timeout=10, **kwargs)


def recorded(name: str, method: str, part: str = "", index: int = 0, **query: str):
    found = [i for i in cs.load(name).find(method, part) if all(i.query.get(k) == [v] for k, v in query.items())]
    return found[index].json()


def assert_same_shape(recorded_json, local_json):
    diffs = cs.unexplained(cs.shape_diff(recorded_json, local_json), NOT_READ)
    assert diffs == []


@pytest.fixture
def ticket(zendesk_server):
    r = api(zendesk_server, "POST", "tickets", json={"ticket": {"subject": "test", "comment": {"body": "test"}}})
    assert r.status_code == 201
    return r.json()


def test_ticket_create_update_show(zendesk_server, ticket):
    tid = ticket["ticket"]["id"]
    assert_same_shape(recorded(T + "test_single_object_update-update-single", "POST", "/tickets"), ticket)
    put = api(zendesk_server, "PUT", f"tickets/{tid}", json={"ticket": {"subject": "x"}}).json()
    assert_same_shape(recorded(T + "test_single_object_update-update-single", "PUT", "/tickets/"), put)
    shown = api(zendesk_server, "GET", f"tickets/{tid}").json()
    assert_same_shape(recorded("TestIncrementalObjectUpdate.test_clean_dirty-setup", "GET"), shown)
    assert "generated_timestamp" not in shown["ticket"]          # answered by the export only
    many = api(zendesk_server, "GET", "tickets/show_many", params={"ids": f"{tid},999"}).json()
    assert_same_shape(recorded(T + "test_multiple_update_single_object-update-many", "GET", "show_many"), many)


def test_stamps_are_whole_seconds_and_safe_update_still_tells_writes_apart(zendesk_server, ticket):
    tid, first = ticket["ticket"]["id"], ticket["ticket"]["updated_at"]
    assert cs.WHOLE_SECONDS.match(first) and cs.WHOLE_SECONDS.match(ticket["audit"]["created_at"])
    a = api(zendesk_server, "PUT", f"tickets/{tid}", json={"ticket": {
        "priority": "high", "safe_update": True, "updated_stamp": first}})
    assert a.status_code == 200
    second = a.json()["ticket"]["updated_at"]
    assert cs.WHOLE_SECONDS.match(second) and second > first        # a write in the same second moves it on
    stale = api(zendesk_server, "PUT", f"tickets/{tid}", json={"ticket": {
        "priority": "low", "safe_update": True, "updated_stamp": first}})
    assert stale.status_code == 409 and stale.json()["error"] == "UpdateConflict"
    fresh = api(zendesk_server, "PUT", f"tickets/{tid}", json={"ticket": {
        "priority": "low", "safe_update": True, "updated_stamp": second}})
    assert fresh.status_code == 200 and fresh.json()["ticket"]["updated_at"] > second


def test_update_many_and_job_status(zendesk_server, ticket):
    tid = ticket["ticket"]["id"]
    job = api(zendesk_server, "PUT", "tickets/update_many", json={"tickets": [{"id": tid, "additional_tags": ["a"]}]})
    assert_same_shape(recorded(T + "test_multiple_update_single_object-update-many", "PUT", "update_many"), job.json())
    done = api(zendesk_server, "GET", f"job_statuses/{job.json()['job_status']['id']}").json()
    assert_same_shape(recorded(T + "test_multiple_update_single_object-update-many", "GET", "job_statuses", 1), done)
    too_many = api(zendesk_server, "PUT", "tickets/update_many", json={"tickets": [{"id": i} for i in range(1, 102)]})
    assert too_many.status_code == 400
    assert_same_shape(recorded(T + "test_raises_multiple_update_raises_toomanyvaluesexception-update-many", "POST"),
                      too_many.json())


def test_missing_ticket_answers_record_not_found(zendesk_server):
    r = api(zendesk_server, "PUT", "tickets/9223372036854775807", json={"ticket": {"subject": "x"}})
    assert r.status_code == 404
    assert_same_shape(recorded(T + "test_single_update_raises_recordnotfoundexception-recordnotfound-update", "PUT"),
                      r.json())


def test_incremental_export_and_ticket_lists(zendesk_server, ticket):
    export = api(zendesk_server, "GET", "incremental/tickets", params={"start_time": 0}).json()
    assert_same_shape(recorded("TicketsIncrementalTest.test_get_values", "GET", "/incremental/tickets"), export)
    assert isinstance(export["tickets"][0]["generated_timestamp"], int)
    cursor = api(zendesk_server, "GET", "tickets", params={"page[size]": 100}).json()
    assert_same_shape(recorded("TestTicketsPagination.test_values", "GET", "/tickets", **{"page[size]": "100"}), cursor)
    offset = api(zendesk_server, "GET", "tickets").json()
    assert_same_shape([i for i in cs.load("TestTicketsPagination.test_values").find("GET", "/tickets")
                       if not i.query][0].json(), offset)


def test_comments_and_audits(zendesk_server, ticket):
    tid = ticket["ticket"]["id"]
    assert api(zendesk_server, "PUT", f"tickets/{tid}", json={"ticket": {"status": "open"}}).status_code == 200
    comments = api(zendesk_server, "GET", f"tickets/{tid}/comments", params={"page[size]": 100}).json()
    assert_same_shape(recorded("TestAttachmentUpload.test_redact_attachment-upload-single", "GET", "/comments"),
                      comments)
    audits = api(zendesk_server, "GET", f"tickets/{tid}/audits", params={"page[size]": 100}).json()
    assert_same_shape(recorded("TestTicketAudits.test_values", "GET", "ticket_audits", **{"page[size]": "100"}),
                      audits)


def test_users_groups_organizations(zendesk_server):
    assert_same_shape(recorded("TestUserMe.test_users_me", "GET"), api(zendesk_server, "GET", "users/299").json())
    assert_same_shape(recorded("TestUserCreateUpdateDelete.test_single_object_creation-create-single", "POST"),
                      api(zendesk_server, "POST", "users", json={"user": {"name": "u1"}}).json())
    assert_same_shape(recorded("TestUserCreateUpdateDelete.test_single_object_create-create-multiple", "GET",
                               "show_many"), api(zendesk_server, "GET", "users/show_many", params={"ids": "299"}).json())
    assert_same_shape(recorded("TestGroupCreateUpdateDelete.test_values", "GET", "/groups", **{"page[size]": "100"}),
                      api(zendesk_server, "GET", "groups", params={"page[size]": 100}).json())
    assert_same_shape(recorded("TestGroupCreateUpdateDelete.test_single_object_creation-create-single", "POST"),
                      api(zendesk_server, "POST", "groups", json={"group": {"name": "g1"}}).json())
    org = api(zendesk_server, "POST", "organizations", json={"organization": {"name": "o1"}}).json()
    assert_same_shape(recorded("TestOrganizationCreateUpdateDelete.test_single_object_creation-create-single", "POST"),
                      org)
    assert_same_shape(recorded("TestDeletedTickets.test_delete_and_restore", "GET", "/organizations/"),
                      api(zendesk_server, "GET", f"organizations/{org['organization']['id']}").json())


def test_ticket_fields_and_triggers(zendesk_server):
    field = api(zendesk_server, "POST", "ticket_fields", json={"ticket_field": {"title": "t", "type": "text"}})
    assert_same_shape(recorded("TestTicketFieldCreateUpdateDelete.test_single_object_creation-create-single", "POST"),
                      field.json())
    body = cs.load("TestTriggers.test_single_object_creation-create-single").one("POST").request_json()
    created = api(zendesk_server, "POST", "triggers", json=body).json()      # top-level "all", as zenpy sent it
    assert_same_shape(recorded("TestTriggers.test_single_object_creation-create-single", "POST"), created)
    assert created["trigger"]["conditions"] == {"all": body["trigger"]["all"], "any": []}
    assert_same_shape(recorded("TestTriggers.test_values", "GET", "/triggers", **{"page[size]": "100"}),
                      api(zendesk_server, "GET", "triggers", params={"page[size]": 100}).json())
    assert_same_shape([i for i in cs.load("TestTriggers.test_values").find("GET", "/triggers") if not i.query][0].json(),
                      api(zendesk_server, "GET", "triggers").json())


def test_webhooks_create_show_list_secret_test(zendesk_server, webhook_receiver):
    body = cs.load("TestWebhooks.test_show_webhook-show").one("POST").request_json()
    created = api(zendesk_server, "POST", "webhooks", json=body).json()
    hid = created["webhook"]["id"]
    assert_same_shape(recorded("TestWebhooks.test_show_webhook-show", "POST"), created)
    assert created["webhook"]["authentication"]["data"] == {"username": "john_smith"}     # no password back
    assert_same_shape(recorded("TestWebhooks.test_show_webhook-show", "GET"),
                      api(zendesk_server, "GET", f"webhooks/{hid}").json())
    assert api(zendesk_server, "PUT", f"webhooks/{hid}", json={"webhook": {"name": "Example X1234"}}).status_code == 204
    listed = api(zendesk_server, "GET", "webhooks", params={"filter[name_contains]": "x1234"}).json()
    assert_same_shape(recorded("TestWebhooks.test_list_webhooks-list", "GET", "/webhooks"), listed)
    assert listed == {"meta": {"has_more": False}, "webhooks": listed["webhooks"]} and len(listed["webhooks"]) == 1
    assert_same_shape(recorded("TestWebhooks.test_webhook_show_secret-show-secret", "GET"),
                      api(zendesk_server, "GET", f"webhooks/{hid}/signing_secret").json())
    assert_same_shape(recorded("TestWebhooks.test_webhook_reset_secret-reset-secret", "POST", "signing_secret"),
                      api(zendesk_server, "POST", f"webhooks/{hid}/signing_secret").json())
    test = api(zendesk_server, "POST", "webhooks/test", params={"webhook_id": hid},
               json={"request": {"endpoint": webhook_receiver.url + "/hook", "http_method": "POST"}}).json()
    assert_same_shape(recorded("TestWebhooks.test_webhook_simple_testing-testing-simple", "POST", "/test"), test)
    assert test["response"]["status_code"] == 200 and isinstance(test["response"]["payload"], str)


def test_webhook_list_pages_with_opaque_cursors(zendesk_server):
    ids = [api(zendesk_server, "POST", "webhooks", json={"webhook": {
        "name": f"hook {n}", "endpoint": "https://example.com/h", "http_method": "POST", "request_format": "json",
        "status": "active", "subscriptions": ["conditional_ticket_events"]}}).json()["webhook"]["id"] for n in range(3)]
    seen, page = [], api(zendesk_server, "GET", "webhooks", params={"page[size]": 2}).json()
    pages = [page]
    while page["meta"]["has_more"]:
        page = requests.get(page["links"]["next"], auth=(f"{zendesk_server.email}/token", zendesk_server.token),
                            timeout=10).json()
        pages.append(page)
    for p in pages:
        seen += [h["id"] for h in p["webhooks"]]
    assert sorted(seen) == sorted(ids) and len(pages) == 2
    recorded_pages = [i.json() for i in cs.load("TestWebhooks.test_invocations-invocations").find("GET", "/invocations")]
    for mine, theirs in ((pages[0], recorded_pages[0]), (pages[-1], recorded_pages[-1])):
        assert set(mine) == set(theirs) - {"invocations"} | {"webhooks"}
        assert set(mine["meta"]) == set(theirs["meta"]) and set(mine.get("links", {})) == set(theirs["links"])
    for bad in ("not-a-cursor", base64.b64encode(b"12").decode(), "%%%"):
        r = api(zendesk_server, "GET", "webhooks", params={"page[after]": bad})
        assert r.status_code == 400 and r.json()["error"] == "InvalidPaginationParameter"
    r = api(zendesk_server, "GET", "tickets", params={"page[size]": "ten"})
    assert r.status_code == 400 and "page[size]" in r.json()["description"]


def test_trigger_engine_honours_top_level_all_and_any(zendesk_server, webhook_receiver):
    hook = api(zendesk_server, "POST", "webhooks", json={"webhook": {
        "name": "t", "endpoint": webhook_receiver.url, "http_method": "POST", "request_format": "json",
        "status": "active", "subscriptions": ["conditional_ticket_events"]}}).json()["webhook"]["id"]
    notify = [{"field": "notification_webhook", "value": [hook, '{"ticket_id": "{{ticket.id}}"}']}]
    for title, form in (("vip created", {"all": [{"field": "update_type", "operator": "is", "value": "Create"},
                                                  {"field": "current_tags", "operator": "includes", "value": "vip"}]}),
                        ("urgent or high", {"any": [{"field": "priority", "operator": "is", "value": "urgent"},
                                                    {"field": "priority", "operator": "is", "value": "high"}]})):
        r = api(zendesk_server, "POST", "triggers", json={"trigger": {"title": title, "actions": notify, **form}})
        assert r.status_code == 201 and r.json()["trigger"]["conditions"] == {"all": [], "any": [], **form}
    plain = api(zendesk_server, "POST", "tickets", json={"ticket": {"comment": {"body": "hello"}}}).json()["ticket"]
    vip = api(zendesk_server, "POST", "tickets", json={"ticket": {"comment": {"body": "hi"}, "tags": ["vip"]}}).json()
    api(zendesk_server, "PUT", f"tickets/{plain['id']}", json={"ticket": {"priority": "high"}})
    assert zendesk_server.wait_deliveries(10)
    fired = sorted((d["ticket_id"], d["event"]) for d in zendesk_server.deliveries())
    assert fired == [(plain["id"], "trigger:urgent or high"), (vip["ticket"]["id"], "trigger:vip created")]
    bad = api(zendesk_server, "POST", "triggers", json={"trigger": {"title": "x", "actions": notify, "all": ["status"]}})
    assert bad.status_code == 422 and "trigger.conditions.all[0]" in bad.json()["description"]
