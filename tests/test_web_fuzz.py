"""Bounded fuzzing of the receiver over real HTTP: schemathesis over the OpenAPI document, and
hypothesis sending arbitrary JSON that is correctly signed. No 5xx, every error a JSON body."""
from __future__ import annotations

import json

import pytest
import redis
import requests
import schemathesis
from hypothesis import HealthCheck, example, given, settings, strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

from test_web_support import SECRET, event_body, live, queue_len, signed
from tiergate.plugin.web import OPENAPI_PATH, create_app

schema = schemathesis.openapi.from_path(str(OPENAPI_PATH))
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck), database=None)


@pytest.fixture(scope="module")
def fuzz_server(redis_server, tmp_path_factory):
    redis.Redis.from_url(redis_server.url).flushall()
    db = tmp_path_factory.mktemp("fuzz") / "log.sqlite"
    app = create_app({"redis_url": redis_server.url, "webhook_secret": SECRET, "max_body_bytes": 16384,
                      "admin_token": "fuzz-admin-token", "db_url": f"sqlite:///{db}"})
    with live(app, threads=4) as srv:
        yield srv


def content_type(response) -> str:
    for key, value in response.headers.items():
        if key.lower() == "content-type":
            return value[0] if isinstance(value, list) else value
    return ""


def errors_are_json(response) -> None:
    if response.status_code >= 400:
        assert content_type(response).startswith("application/json"), response.text[:200]
        body = response.json()
        assert isinstance(body, dict) and "error" in body
        assert "Traceback" not in response.text and SECRET not in response.text


@schema.parametrize()
@FUZZ
def test_openapi_fuzz(case, fuzz_server):
    response = case.call(base_url=fuzz_server.url, timeout=10)
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                             content_type_conformance, response_headers_conformance,
                                             response_schema_conformance])
    if case.operation.path != "/dashboard":
        errors_are_json(response)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=30)
payloads = st.one_of(
    json_values,
    st.fixed_dictionaries({"ticket_id": json_values}),
    st.fixed_dictionaries({"type": st.sampled_from(["zen:event-type:ticket.created", "x"]) | st.text(max_size=30),
                           "id": json_values, "subject": st.text(max_size=20) | st.just("zen:ticket:5"),
                           "time": st.text(max_size=25) | st.just("2024-04-17T17:18:10Z"),
                           "detail": json_values | st.fixed_dictionaries({"id": json_values})}),
)


@given(body=payloads | st.binary(max_size=200).map(lambda b: {"raw": b.hex()}))
@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@example(body={"ticket_id": 5})
@example(body=event_body(ticket_id=6, event_id="fuzz-evt"))
def test_signed_arbitrary_json_never_fails_the_server(body, fuzz_server):
    raw, headers = signed(json.dumps(body).encode())
    response = requests.post(fuzz_server.url + "/webhooks/zendesk", data=raw, headers=headers, timeout=10)
    assert response.status_code in (200, 202, 400), response.text
    errors_are_json(response)
    if response.status_code == 400:
        assert response.json().get("field")


@given(raw=st.binary(max_size=300))
@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_signed_arbitrary_bytes_never_fail_the_server(raw, fuzz_server, redis_server):
    raw, headers = signed(raw)
    response = requests.post(fuzz_server.url + "/webhooks/zendesk", data=raw, headers=headers, timeout=10)
    assert response.status_code in (200, 202, 400), response.text
    errors_are_json(response)


def test_fuzz_left_only_accepted_deliveries_in_the_queue(fuzz_server, redis_server):
    conn = redis.Redis.from_url(redis_server.url)
    accepted = len([k for k in conn.keys("tg:dedupe:*") if b":sig:" not in k])
    assert queue_len(conn) == accepted
