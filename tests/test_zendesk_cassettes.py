"""Contract tests from real recorded Zendesk responses (``tests/cassettes/zendesk``, betamax files
recorded by zenpy's test suite): zenpy and tiergate's Zendesk connector read each recording over
real HTTP from a replay server, and what they parse must be what Zendesk answered. The local
server's answers are held to the same recordings in ``test_zendesk_cassette_shapes.py``."""
from __future__ import annotations

import itertools
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from zenpy.lib.api_objects import Group, Organization, Ticket, TicketField, Trigger, User, Webhook
from zenpy.lib.exception import RecordNotFoundException, TooManyValuesException

import cassette_support as cs
from tiergate.connectors.zendesk import ZendeskConnector, ticket_from_json
from tiergate.plugin.core.errors import NotFound
from tiergate.plugin.core.model import TicketUpdate, parse_time
from tiergate.plugin.install import delivery_outcome

MISSING_UPDATE = "TestTicketCreateUpdateDelete.test_single_update_raises_recordnotfoundexception-recordnotfound-update"
MISSING_DELETE = "TestTicketCreateUpdateDelete.test_single_delete_raises_recordnotfoundexception-recordnotfound-delete"
TOO_MANY = "TestTicketCreateUpdateDelete.test_raises_multiple_update_raises_toomanyvaluesexception-update-many"
REPLAYED: set[str] = set()          # cassettes the tests that ran replayed


@pytest.fixture
def replay(monkeypatch):
    """``replay(*names) -> (server, connector)``: the cassettes served over HTTP, a connector on them."""
    servers: list[cs.ReplayServer] = []
    for var in ("ZENPY_FORCE_SCHEME", "ZENPY_FORCE_NETLOC"):
        monkeypatch.delenv(var, raising=False)        # restored after the test

    def start(*names: str) -> tuple[cs.ReplayServer, ZendeskConnector]:
        server = cs.ReplayServer(*(cs.load(n) for n in names))
        servers.append(server)
        REPLAYED.update(names)
        connector = ZendeskConnector("recorded", "agent@example.com", "token", scheme="http", netloc=server.netloc,
                                     job_wait=5.0)
        return server, connector

    yield start
    for server in servers:
        assert server.misses == [], f"requests not in the recording: {server.misses}"
        server.stop()


def _served(server: cs.ReplayServer, method: str, path_contains: str) -> list[cs.Interaction]:
    return [server.interactions[n] for n in server.served
            if server.interactions[n].method == method and path_contains in server.interactions[n].path]


# -- tickets: the connector's reads and writes ------------------------------------------------------
def test_ticket_show_parses_into_the_model(replay):
    server, conn = replay("TestIncrementalObjectUpdate.test_clean_dirty-setup")
    recorded = cs.load("TestIncrementalObjectUpdate.test_clean_dirty-setup").one("GET", "/tickets/1").json()["ticket"]
    with conn._calls("show"):
        raw = conn.client.tickets(id=1).to_dict()
    ticket = ticket_from_json(raw)
    assert (ticket.id, ticket.status, ticket.priority, ticket.type) == (1, "open", "normal", "incident")
    assert ticket.tags == tuple(recorded["tags"]) == ("sample", "support", "zendesk")
    assert (ticket.group_id, ticket.assignee_id, ticket.requester_id) == (
        recorded["group_id"], recorded["assignee_id"], recorded["requester_id"])
    assert ticket.updated_at == parse_time(recorded["updated_at"]) and ticket.updated_at.microsecond == 0
    assert ticket.channel == "sample_ticket" and ticket.description == recorded["description"]


def test_ticket_create_returns_the_recorded_ticket_and_audit(replay):
    name = "TestTicketCreateUpdateDelete.test_single_object_creation-create-single"
    server, conn = replay(name)
    recorded = cs.load(name).one("POST", "/tickets").json()
    with conn._calls("create"):
        audit = conn.client.tickets.create(Ticket(subject="test", description="test"))
    assert audit.ticket.id == recorded["ticket"]["id"] and audit.audit.id == recorded["audit"]["id"]
    assert [e["type"] for e in audit.audit.events][:2] == ["Comment", "Create"]
    assert json.loads(_served(server, "POST", "/tickets")[0].request_body or "{}") is not None


def test_connector_apply_sends_safe_update_and_reads_the_recorded_answer(replay):
    name = "TestTicketCreateUpdateDelete.test_single_object_update-update-single"
    server, conn = replay(name)
    created = cs.load(name).one("POST", "/tickets").json()["ticket"]
    answer = cs.load(name).one("PUT", "/tickets/4016").json()
    stamp = parse_time(created["updated_at"])
    ticket = conn.apply(4016, TicketUpdate(priority="high", group_id=None), expected_updated_at=stamp,
                        delivery_id="d-1")
    sent = json.loads([r for r in server.requests if r[0] == "PUT"][0][2])["ticket"]
    assert sent == {"priority": "high", "safe_update": True, "updated_stamp": "2023-09-18T23:26:00Z"}
    assert ticket.id == 4016 and ticket.subject == answer["ticket"]["subject"]
    assert ticket.updated_at == parse_time("2023-09-18T23:26:01Z") == stamp + timedelta(seconds=1)
    assert [c.body for c in ticket.comments] == []       # the recorded audit added no comment


def test_connector_apply_to_a_missing_ticket_raises_not_found(replay):
    server, conn = replay(MISSING_UPDATE)
    with pytest.raises(NotFound):
        conn.apply(9223372036854775807, TicketUpdate(priority="high"),
                   expected_updated_at=parse_time("2023-09-18T23:26:00Z"), delivery_id="d-2")
    assert _served(server, "PUT", "/tickets/9223372036854775807")[0].status == 404


def test_ticket_delete_and_missing_delete(replay):
    server, conn = replay("TestTicketCreateUpdateDelete.test_single_object_deletion-delete-single", MISSING_DELETE)
    with conn._calls("delete"):
        audit = conn.client.tickets.create(Ticket(subject="test", description="test"))
        conn.client.tickets.delete(audit.ticket)
    with pytest.raises(RecordNotFoundException):
        conn.client.tickets.delete(Ticket(id=9223372036854775807))
    with pytest.raises(NotFound), conn._calls("delete missing"):
        conn.client.tickets.delete(Ticket(id=9223372036854775807))
    assert [i.status for i in _served(server, "DELETE", "/tickets/")][:2] == [204, 404]


@pytest.mark.parametrize("name", ["TestTicketCreateUpdateDelete.test_multiple_update_single_object-update-many",
                                  "TestTicketCreateUpdateDelete.test_multiple_update_half_full_objects-update-many"])
def test_connector_apply_many_waits_for_the_recorded_job(replay, name):
    server, conn = replay(name)
    ids = [r["id"] for r in cs.load(name).find("PUT", "update_many")[0].request_json()["tickets"]]
    conn.apply_many([(tid, TicketUpdate(add_tags=("tg_x",))) for tid in ids], delivery_id="d-3")
    sent = json.loads([r for r in server.requests if r[0] == "PUT"][0][2])["tickets"]
    assert [t["id"] for t in sent] == ids and all(t["additional_tags"] == ["tg_x"] for t in sent)
    final = _served(server, "GET", "/job_statuses/")[-1].json()["job_status"]
    assert final["status"] == "completed" and {r["id"] for r in final["results"]} == set(ids)


def test_create_many_job_status_and_show_many(replay):
    name = "TestTicketCreateUpdateDelete.test_single_object_create-create-multiple"
    server, conn = replay(name)
    with conn._calls("create many"):
        job = conn.client.tickets.create([Ticket(subject="test", description="test")])
        statuses = [conn.client.job_status(id=job.id).status for _ in range(2)]
        tickets = list(conn.client.tickets(ids=[4013]))
    assert job.status == "queued" and statuses == ["queued", "completed"]
    assert [t.id for t in tickets] == [4013] and ticket_from_json(tickets[0].to_dict()).status == "new"


def test_delete_many_answers_a_job_status(replay):
    server, conn = replay("TestTicketCreateUpdateDelete.test_multiple_delete_single_object-delete-many")
    with conn._calls("delete many"):
        job = conn.client.tickets.delete([Ticket(id=3861)])
    assert job.status == "queued" and job.id == "V3-c91e023358288e97175ea15fc5463c97"


def test_create_many_over_the_limit_raises_too_many_values(replay):
    server, conn = replay(TOO_MANY)
    recorded = cs.load(TOO_MANY).one("POST", "create_many")
    count = len(recorded.request_json()["tickets"])
    with pytest.raises(TooManyValuesException):
        conn.client.tickets.create([Ticket(subject="test", description="test") for _ in range(count)])
    assert recorded.status == 400 and recorded.json()["error"] == "TooManyValues"


def test_incremental_export_time_and_cursor(replay):
    name = "TicketsIncrementalTest.test_get_values"
    server, conn = replay(name)
    recorded = cs.load(name).one("GET", "/incremental/tickets").json()
    cursor = cs.load(name).one("GET", "/incremental/tickets/cursor").json()
    assert list(conn.iter_tickets(status=["no-such-status"])) == []      # one page read, end_of_stream
    assert [r[1] for r in server.requests] == ["/api/v2/incremental/tickets.json?start_time=0"]
    with conn._calls("cursor export"):
        cursor_ids = [t.id for t in conn.client.tickets.incremental(start_time=0, paginate_by_time=False)]
    assert cursor_ids == [t["id"] for t in cursor["tickets"]] and set(cursor_ids) == {t["id"] for t in recorded["tickets"]}
    assert all(ticket_from_json(t).updated_at.microsecond == 0 for t in recorded["tickets"])


@pytest.mark.parametrize("name,api,key", [
    ("TestTicketsPagination.test_values", "tickets", "tickets"),
    ("TestUsersPagination.test_values", "users", "users"),
    ("TestGroupCreateUpdateDelete.test_values", "groups", "groups"),
    ("TestOrganizationCreateUpdateDelete.test_values", "organizations", "organizations"),
    ("TestTriggers.test_values", "triggers", "triggers"),
    ("TestTicketAudits.test_values", "tickets.audits", "audits"),
])
def test_cursor_lists_parse_every_recorded_object(replay, name, api, key):
    server, conn = replay(name)
    first = cs.load(name).find("GET", "", 200)
    page = next(i for i in first if i.query.get("page[size]") == ["100"]).json()
    endpoint = conn.client
    for part in api.split("."):
        endpoint = getattr(endpoint, part)
    with conn._calls("list"):      # the recordings stop within the first page
        ids = [o.id for o in itertools.islice(endpoint(), len(page[key]))]
    assert ids == [o["id"] for o in page[key]] and ids
    assert isinstance(page["meta"]["has_more"], bool) and set(page["links"]) >= {"next", "prev"}


def test_cursor_pagination_follows_links_next(replay):
    name = "TestTicketsPagination.test_pagination"
    server, conn = replay(name)
    pages = [i.json() for i in cs.load(name).find("GET", "/tickets", 200) if "page[size]" in i.query
             and i.query["page[size]"] == ["1"] or "page[after]" in i.query]
    with conn._calls("pages"):      # one ticket a page, as far as the recording goes
        ids = [t.id for t in itertools.islice(conn.client.tickets(cursor_pagination=1), len(pages))]
    assert ids == [p["tickets"][0]["id"] for p in pages] and len(pages) == 10
    assert all(p["meta"]["has_more"] is True and isinstance(p["meta"]["after_cursor"], str) for p in pages)


def test_ticket_comments_cursor_page_parses_into_the_model(replay):
    name = "TestAttachmentUpload.test_redact_attachment-upload-single"
    server, conn = replay(name)
    recorded = cs.load(name).one("GET", "/tickets/33/comments").json()
    with conn._calls("comments"):
        comments = [c.to_dict() for c in conn.client.tickets.comments(ticket=33)]
    ticket = ticket_from_json({"id": 33, "via": {"channel": "api"}}, comments, {})
    assert [c.id for c in ticket.comments] == [c["id"] for c in recorded["comments"]]
    assert ticket.comments[0].attachments == ("README.md",)
    assert all(c.created_at.microsecond == 0 for c in ticket.comments)


def test_deleted_ticket_restore_then_show_with_organization(replay):
    name = "TestDeletedTickets.test_delete_and_restore"
    server, conn = replay(name)
    shown = cs.load(name).one("GET", "/tickets/4017").json()["ticket"]
    org = cs.load(name).one("GET", "/organizations/").json()["organization"]
    with conn._calls("show"):
        raw = conn.client.tickets(id=4017).to_dict()
        org_raw = conn.client.organizations(id=shown["organization_id"]).to_dict()
    ticket = ticket_from_json(raw, organization=org_raw)
    assert ticket.id == 4017 and ticket.organization is not None and ticket.organization.id == org["id"]
    assert ticket.organization.name == org["name"]


# -- directory and admin objects: create, update, delete, not found -----------------------------------
CRUD = {"users": (User, "user"), "groups": (Group, "group"), "organizations": (Organization, "organization"),
        "ticket_fields": (TicketField, "ticket_field"), "triggers": (Trigger, "trigger")}
BIG = 9223372036854775807


@pytest.mark.parametrize("name,api,kind", [
    ("TestUserCreateUpdateDelete.test_single_object_creation-create-single", "users", "create"),
    ("TestUserCreateUpdateDelete.test_single_object_update-update-single", "users", "update"),
    ("TestUserCreateUpdateDelete.test_single_update_raises_recordnotfoundexception-recordnotfound-update", "users",
     "missing-update"),
    ("TestGroupCreateUpdateDelete.test_single_object_creation-create-single", "groups", "create"),
    ("TestGroupCreateUpdateDelete.test_single_object_update-update-single", "groups", "update"),
    ("TestGroupCreateUpdateDelete.test_single_delete_raises_recordnotfoundexception-recordnotfound-delete", "groups",
     "missing-delete"),
    ("TestOrganizationCreateUpdateDelete.test_single_object_creation-create-single", "organizations", "create"),
    ("TestOrganizationCreateUpdateDelete.test_single_object_update-update-single", "organizations", "update"),
    ("TestTicketFieldCreateUpdateDelete.test_single_object_creation-create-single", "ticket_fields", "create"),
    ("TestTicketFieldCreateUpdateDelete.test_single_object_update-update-single", "ticket_fields", "update"),
    ("TestTicketFieldCreateUpdateDelete.test_single_object_deletion-delete-single", "ticket_fields", "delete"),
    ("TestTriggers.test_single_object_creation-create-single", "triggers", "create"),
    ("TestTriggers.test_single_object_update-update-single", "triggers", "update"),
    ("TestTriggers.test_single_object_deletion-delete-single", "triggers", "delete"),
    ("TestTriggers.test_single_update_raises_recordnotfoundexception-recordnotfound-update", "triggers",
     "missing-update"),
])
def test_crud_round_trips_through_zenpy(replay, name, api, kind):
    server, conn = replay(name)
    cls, one = CRUD[api]
    cassette = cs.load(name)
    endpoint = getattr(conn.client, api)
    if kind.startswith("missing"):
        method = "PUT" if kind == "missing-update" else "DELETE"
        body = (cassette.one(method).request_json() or {}).get(one) or {}
        obj = cls(**{**body, "id": BIG})
        with pytest.raises(RecordNotFoundException):
            endpoint.update(obj) if method == "PUT" else endpoint.delete(obj)
        assert cassette.one(method).json()["error"] == "RecordNotFound"
        return
    post = cassette.one("POST")
    created = endpoint.create(cls(**post.request_json()[one]))
    recorded = post.json()[one]
    assert created.id == recorded["id"] and created.created_at == recorded["created_at"]
    if api == "triggers":       # sent with top-level "all"; answered folded into conditions
        assert "all" in post.request_json()[one] and created.to_dict()["conditions"] == recorded["conditions"]
        assert set(recorded["conditions"]) == {"all", "any"}
    if kind == "update":
        put = cassette.one("PUT")
        for key, value in put.request_json()[one].items():
            if key != "id":
                setattr(created, key, value)
        updated = endpoint.update(created)
        assert updated.to_dict() == cls(**server.as_served(put)[one]).to_dict()
    if kind == "delete":
        endpoint.delete(created)
        assert _served(server, "DELETE", f"/{api}/{created.id}")[0].status == 204


@pytest.mark.parametrize("name,api", [
    ("TestUserCreateUpdateDelete.test_single_object_create-create-multiple", "users"),
    ("TestOrganizationCreateUpdateDelete.test_single_object_create-create-multiple", "organizations"),
])
def test_create_many_then_show_many(replay, name, api):
    server, conn = replay(name)
    cls, one = CRUD[api]
    cassette = cs.load(name)
    endpoint = getattr(conn.client, api)
    job = endpoint.create([cls(**o) for o in cassette.one("POST").request_json()[api]])
    done = conn._wait_job(job.to_dict())
    ids = [r["id"] for r in done["results"]]
    shown = list(endpoint(ids=ids))
    assert [o.id for o in shown] == ids == [o["id"] for o in cassette.one("GET", "show_many").json()[api]]
    assert done["status"] == "completed" and all(r["status"] == "Created" for r in done["results"])


def test_users_me(replay):
    server, conn = replay("TestUserMe.test_users_me")
    me = conn.client.users.me()
    assert me.role == "admin" and me.id == cs.load("TestUserMe.test_users_me").one("GET").json()["user"]["id"]


# -- webhooks: what tiergate install uses ------------------------------------------------------------
HOOK = "TestWebhooks.test_{}"


def _hook_body(cassette: cs.Cassette) -> dict:
    return cassette.one("POST", "/webhooks").request_json()["webhook"]


def test_webhook_create_show_list(replay):
    names = [HOOK.format("single_object_creation-create-single"), HOOK.format("show_webhook-show"),
             HOOK.format("list_webhooks-list"), HOOK.format("create_webhook_token_auth-create_webhook_token_auth")]
    server, conn = replay(*names)
    created = [conn.client.webhooks.create(Webhook(**_hook_body(cs.load(n)))) for n in names]
    assert [h.id for h in created] == [cs.load(n).one("POST").json()["webhook"]["id"] for n in names]
    assert all(h.authentication.get("data", {}).get("password") is None for h in created)   # never echoed
    shown = conn.client.webhooks(id=created[1].id)
    assert shown.id == created[1].id and shown.created_at.endswith("Z") and "." not in shown.created_at
    listed = cs.load(names[2]).find("GET", "/webhooks", 200)
    pages = [conn._send("get", "webhooks"), conn._send("get", "webhooks", params={"filter[name_contains]": "X1234"})]
    assert pages == [server.as_served(i) for i in listed]
    assert all(p["meta"] == {"has_more": False} and "links" not in p for p in pages)
    assert [h["name"] for h in pages[1]["webhooks"]] == ["Example Webhook X1234"]


def test_webhook_update_and_patch_answer_no_content(replay):
    server, conn = replay(HOOK.format("create_and_update_webhook-update-single"), HOOK.format("patch_webhook-patch-single"))
    first = conn.client.webhooks.create(Webhook(**_hook_body(cs.load(HOOK.format("create_and_update_webhook-update-single")))))
    conn.client.webhooks.update(first.id, Webhook(name="New name", endpoint="https://example.com/status/200",
                                                   http_method="GET", request_format="json", status="active"))
    second = conn.client.webhooks.create(Webhook(**_hook_body(cs.load(HOOK.format("patch_webhook-patch-single")))))
    conn.client.webhooks.patch(Webhook(id=second.id, name="A new name"))
    assert conn.client.webhooks(id=second.id).name == "A new name"
    assert [i.status for i in _served(server, "PUT", "/webhooks/") + _served(server, "PATCH", "/webhooks/")] == [204, 204]


@pytest.mark.parametrize("name,method", [("webhook_show_secret-show-secret", "show_secret"),
                                         ("webhook_reset_secret-reset-secret", "reset_secret")])
def test_webhook_signing_secret(replay, name, method):
    server, conn = replay(HOOK.format(name))
    hook = conn.client.webhooks.create(Webhook(**_hook_body(cs.load(HOOK.format(name)))))
    secret = getattr(conn.client.webhooks, method)(hook)
    assert secret.algorithm == "SHA256" and len(secret.secret) == 44


@pytest.mark.parametrize("name,request_", [
    ("webhook_simple_testing-testing-simple", {}),
    ("webhook_testing_with_full_request-testing-request-full",
     {"endpoint": "https://example.org", "request_format": "json", "http_method": "GET"}),
    ("webhook_testing_with_partial_request-testing-request-partial", {"endpoint": "https://example.org/fail"}),
])
def test_webhook_test_answers_status_code_headers_payload(replay, name, request_):
    cassette = cs.load(HOOK.format(name))
    server, conn = replay(HOOK.format(name))
    hook = conn.client.webhooks.create(Webhook(**_hook_body(cassette)))
    recorded = cassette.one("POST", "/webhooks/test")
    answer = conn._send("post", "webhooks/test", {"request": request_},
                        params={"webhook_id": hook.id} if "webhook_id" in recorded.query else None)["response"]
    assert set(answer) == {"headers", "status_code", "payload"} and isinstance(answer["status_code"], int)
    assert all(set(h) == {"key", "value"} for h in answer["headers"]) and isinstance(answer["payload"], str)
    assert answer == recorded.json()["response"]
    assert delivery_outcome(answer) == (answer["status_code"], answer["payload"][:300])    # what install reports


def test_webhook_invocations_follow_the_webhook_cursor(replay):
    name = HOOK.format("invocations-invocations")
    server, conn = replay(name)
    hook_id = "01HAN96XNH1J7DY8D7RZ22QMT9"
    assert conn.client.webhooks(id=hook_id).id == hook_id
    ids = [i.id for i in conn.client.webhooks.invocations(hook_id)]
    pages = [i.json() for i in cs.load(name).find("GET", "/invocations", 200)]
    assert ids == [i["id"] for p in pages for i in p["invocations"]] and len(pages) == 9
    assert pages[-1]["meta"] == {"has_more": False, "before_cursor": pages[-1]["meta"]["before_cursor"]}
    assert "next" not in pages[-1]["links"] and "prev" not in pages[0]["links"]


def test_every_recorded_cassette_is_replayed_here():
    """Every cassette in the folder is named by a test of this module (at least 40 of them)."""
    source = Path(__file__).read_text(encoding="utf-8")
    named = set(re.findall(r'"((?:Test|Tickets)\w+\.test_[\w-]+)"', source))
    named |= {HOOK.format(n) for n in re.findall(r'HOOK\.format\("([\w-]+)"\)', source)}
    named |= {HOOK.format(n) for n in re.findall(r'"(webhook_[\w-]+)"', source)}
    assert named >= set(cs.names()) and len(cs.names()) >= 40
    assert REPLAYED <= set(cs.names())
