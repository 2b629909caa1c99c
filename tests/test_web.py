"""The receiver over real HTTP (waitress on a socket) and a real Redis: every acceptance and every
rejection code, dedupe, nothing enqueued for a rejected request, Redis outage and recovery."""
from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from rq.job import Job
from rq.serializers import JSONSerializer

from test_web_support import SECRET, event_body, live, nested, queue_len, signed, stale
from tiergate.runtime.config import Settings
from tiergate.plugin.embedded import start_redis
from tiergate.plugin.web import ConfigError, create_app, json_depth

URL = "/webhooks/zendesk"


def make_app(redis_url: str, **extra):
    return create_app({"redis_url": redis_url, "webhook_secret": SECRET, "max_body_bytes": 8192,
                       "admin_token": "admin-token-xyz", **extra})


@pytest.fixture
def server(redis_conn, redis_url):
    with live(make_app(redis_url)) as srv:
        yield srv


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


def assert_json_error(response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"error", "message"}
    if error:
        assert body["error"] == error, body
    assert "Traceback" not in response.text and SECRET not in response.text
    assert "<html" not in response.text.lower()
    return body


# -- configuration -------------------------------------------------------------------------------
def test_create_app_requires_the_webhook_secret(redis_url):
    with pytest.raises(ConfigError, match="TIERGATE_WEBHOOK_SECRET"):
        create_app({"redis_url": redis_url})
    with pytest.raises(ConfigError, match="TIERGATE_WEBHOOK_SECRET"):
        create_app(Settings(redis_url=redis_url))


def test_create_app_accepts_settings_env_names_and_rejects_unknown_keys(redis_url):
    app = create_app({"REDIS_URL": redis_url, "TIERGATE_WEBHOOK_SECRET": SECRET, "MAX_JSON_DEPTH": 5})
    state = app.extensions["tiergate"]
    assert state.settings.webhook_secret == SECRET and state.max_json_depth == 5
    assert state.redis.connection_pool.connection_kwargs["port"] == int(redis_url.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(ConfigError, match="NOPE"):
        create_app({"webhook_secret": SECRET, "NOPE": 1})


def test_json_depth_scanner():
    assert json_depth(b'{"a": [1, {"b": "[[[\\"]]]"}]}') == 3
    assert json_depth(b'"[[[[') == 0
    assert json_depth(json.dumps(nested(40)).encode()) == 40
    assert json_depth(b"[" * 100_000, limit=32) == 33


# -- acceptance ----------------------------------------------------------------------------------
def test_signed_event_is_queued_once_with_the_delivery(server, http, redis_conn):
    body = event_body(ticket_id=42, event_id="evt-1")
    raw, headers = signed(body)
    response = http.post(server.url + URL, data=raw, headers=headers)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["status"] == "queued" and answer["job_id"]
    assert queue_len(redis_conn) == 1
    job = Job.fetch(answer["job_id"], connection=redis_conn, serializer=JSONSerializer)
    assert job.func_name == "tiergate.jobs.process.process_delivery"
    delivery = job.args[0]
    assert delivery["delivery_id"] == "evt-1" and delivery["ticket_id"] == 42
    assert delivery["helpdesk"] == "zendesk"


def test_trigger_payload_is_queued(server, http, redis_conn):
    raw, headers = signed({"ticket_id": "7"})
    headers["X-Zendesk-Webhook-Invocation-Id"] = "inv-7"
    response = http.post(server.url + URL, data=raw, headers=headers)
    assert response.status_code == 202, response.text
    assert queue_len(redis_conn) == 1


def test_duplicate_delivery_gives_one_job(server, http, redis_conn):
    raw, headers = signed(event_body(event_id="evt-dup"))
    first = http.post(server.url + URL, data=raw, headers=headers)
    second = http.post(server.url + URL, data=raw, headers=headers)
    assert first.status_code == 202
    assert second.status_code == 200 and second.json()["status"] == "duplicate"
    # a retry signed at another instant is the same delivery
    raw2, headers2 = signed(event_body(event_id="evt-dup"), at=stale(1))
    assert http.post(server.url + URL, data=raw2, headers=headers2).json()["status"] == "duplicate"
    assert queue_len(redis_conn) == 1


def test_concurrent_copies_of_one_delivery_give_one_job(server, redis_conn):
    raw, headers = signed(event_body(event_id="evt-race"))
    barrier = threading.Barrier(8)

    def post(_):
        barrier.wait()
        return requests.post(server.url + URL, data=raw, headers=headers, timeout=10).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(post, range(8)))
    assert codes.count(202) == 1, codes
    assert set(codes) <= {202, 200, 503}  # 503 = in flight: the desk retries and then gets 200
    assert queue_len(redis_conn) == 1


# -- rejections: each code, and nothing enqueued ------------------------------------------------
def rejections():
    body = event_body(event_id="evt-bad")
    raw, good = signed(body)
    deep_raw, deep_headers = signed(json.dumps({"ticket_id": 5, "x": nested(50)}).encode())
    cases = {
        "missing_signature": (raw, {"Content-Type": "application/json"}, 401, "missing_signature"),
        "no_timestamp": (raw, {**good, "X-Zendesk-Webhook-Signature-Timestamp": ""}, 401, "missing_signature"),
        "bad_signature": (raw, {**good, "X-Zendesk-Webhook-Signature": "AAAA" + good["X-Zendesk-Webhook-Signature"][4:]}, 401, "bad_signature"),
        "wrong_secret": (*signed(body, secret="other-secret"), 401, "bad_signature"),
        "tampered_body": (raw.replace(b"Cannot", b"Can"), good, 401, "bad_signature"),
        "stale": (*signed(body, at=stale(10)), 401, "stale_timestamp"),
        "future": (*signed(body, at=stale(-10)), 401, "stale_timestamp"),
        "malformed_json": (*signed(b'{"ticket_id": 5,'), 400, "bad_payload"),
        "not_utf8": (*signed(b'{"ticket_id": "\xff"}'), 400, "bad_payload"),
        "wrong_field": (*signed({"ticket_id": "abc"}), 400, "bad_payload"),
        "missing_field": (*signed({"hello": 1}), 400, "bad_payload"),
        "wrong_nested_field": (*signed(event_body(detail={"id": "x1"})), 400, "bad_payload"),
        "deep_json": (deep_raw, deep_headers, 400, "too_deep"),
        "deep_json_unsigned": (deep_raw, {"Content-Type": "application/json"}, 401, "missing_signature"),
        "text_plain": (*signed(body, content_type="text/plain"), 415, "unsupported_media_type"),
        "form": (*signed(body, content_type="application/x-www-form-urlencoded"), 415, "unsupported_media_type"),
        "too_large": (*signed({"ticket_id": 5, "pad": "x" * 9000}), 413, "too_large"),
    }
    return cases


@pytest.mark.parametrize("case", sorted(rejections()))
def test_rejections_answer_json_and_enqueue_nothing(case, server, http, redis_conn):
    raw, headers, status, error = rejections()[case]
    response = http.post(server.url + URL, data=raw, headers=headers)
    body = assert_json_error(response, status, error)
    assert queue_len(redis_conn) == 0
    assert not redis_conn.keys("tg:dedupe:*")
    if status == 400 and error == "bad_payload":
        assert body["field"]


def test_bad_field_is_named(server, http):
    raw, headers = signed({"ticket_id": "abc"})
    body = assert_json_error(http.post(server.url + URL, data=raw, headers=headers), 400)
    assert body["field"] == "ticket_id" and body["message"]
    raw, headers = signed(event_body(detail={"id": "x1"}))
    assert assert_json_error(http.post(server.url + URL, data=raw, headers=headers), 400)["field"] == "detail.id"
    raw, headers = signed(b"[1, 2")
    assert assert_json_error(http.post(server.url + URL, data=raw, headers=headers), 400)["field"] == "body"


def test_oversize_chunked_body_is_refused_without_content_length(server, http, redis_conn):
    raw, headers = signed({"ticket_id": 5, "pad": "x" * 20000})

    def chunks():
        for i in range(0, len(raw), 1000):
            yield raw[i:i + 1000]

    response = http.post(server.url + URL, data=chunks(), headers=headers)
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert_json_error(response, 413, "too_large")
    assert queue_len(redis_conn) == 0


def test_signed_chunked_body_within_the_limit_is_accepted(server, http, redis_conn):
    raw, headers = signed(event_body(event_id="evt-chunked"))
    response = http.post(server.url + URL, data=iter([raw[:50], raw[50:]]), headers=headers)
    assert response.status_code == 202, response.text
    assert queue_len(redis_conn) == 1


def test_every_other_error_is_json(server, http):
    assert_json_error(http.get(server.url + URL), 405)
    assert_json_error(http.get(server.url + "/nowhere"), 404)
    raw, headers = signed(event_body())
    body = assert_json_error(http.post(server.url + "/webhooks/freshdesk", data=raw, headers=headers), 404,
                             "unknown_helpdesk")
    assert body["field"] == "helpdesk"


# -- Redis: outage, recovery, enqueue failure ---------------------------------------------------
def test_redis_outage_answers_503_then_recovers():
    own = start_redis()
    port = own.port
    try:
        with live(make_app(own.url, RETRY_AFTER=7, REDIS_TIMEOUT=0.5)) as srv, requests.Session() as http:
            assert http.get(srv.url + "/healthz").json() == {"redis": "ok"}
            own.stop()
            health = http.get(srv.url + "/healthz")
            assert health.status_code == 503 and health.json()["redis"] == "down"
            assert health.headers["Retry-After"] == "7"
            raw, headers = signed(event_body(event_id="evt-outage"))
            response = http.post(srv.url + URL, data=raw, headers=headers)
            assert_json_error(response, 503, "redis_unavailable")
            assert response.headers["Retry-After"] == "7"
            # signature checks need no Redis: a forged delivery is still a 401
            assert_json_error(http.post(srv.url + URL, data=raw, headers={"Content-Type": "application/json"}), 401)

            own = start_redis(port=port)
            assert http.get(srv.url + "/healthz").status_code == 200
            retry = http.post(srv.url + URL, data=raw, headers=headers)
            assert retry.status_code == 202, retry.text
            import redis as redis_lib

            assert queue_len(redis_lib.Redis.from_url(own.url)) == 1
    finally:
        own.stop()


def test_failed_enqueue_releases_the_dedupe_key_so_the_retry_is_accepted(server, http, redis_conn):
    # make the queue list unusable: RQ's push fails with WRONGTYPE inside Redis itself
    redis_conn.set("rq:queue:tiergate", "not a list")
    raw, headers = signed(event_body(event_id="evt-enqueue-fails"))
    response = http.post(server.url + URL, data=raw, headers=headers)
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert_json_error(response, 503)
    assert not redis_conn.exists("tg:dedupe:zendesk:evt-enqueue-fails")
    redis_conn.delete("rq:queue:tiergate")
    retry = http.post(server.url + URL, data=raw, headers=headers)
    assert retry.status_code == 202, retry.text
    assert queue_len(redis_conn) == 1
    assert redis_conn.ttl("tg:dedupe:zendesk:evt-enqueue-fails") > 3600


def test_healthz_ok(server, http):
    response = http.get(server.url + "/healthz")
    assert response.status_code == 200 and response.json() == {"redis": "ok"}


def test_openapi_document_is_served(server, http):
    doc = http.get(server.url + "/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert {"/webhooks/zendesk", "/healthz", "/metrics", "/dashboard"} <= set(doc["paths"])
    params = {p["name"] for p in doc["paths"]["/webhooks/zendesk"]["post"]["parameters"]}
    assert {"X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp"} <= params


# -- secrets ---------------------------------------------------------------------------------------
def test_secret_never_logged_nor_answered(server, http, caplog):
    caplog.set_level(logging.DEBUG, logger="tiergate")
    for raw, headers, _status, _error in rejections().values():
        response = http.post(server.url + URL, data=raw, headers=headers)
        assert SECRET not in response.text and "Traceback" not in response.text
    raw, headers = signed(event_body())
    http.post(server.url + URL, data=raw, headers=headers)
    text = caplog.text
    assert "webhook rejected" in text and "webhook queued" in text
    assert SECRET not in text and "admin-token-xyz" not in text
    logging.getLogger("tiergate.web").warning("oops secret=%s", SECRET)
    assert SECRET not in caplog.records[-1].getMessage()


# -- a second helpdesk plugs in through the verifier lookup ----------------------------------------
def test_second_helpdesk_through_the_verifier_lookup(redis_conn, redis_url):
    from tiergate.connectors import zammad_webhook

    app = create_app({"redis_url": redis_url, "webhook_secret": SECRET, "helpdesk": "zammad"})
    body = json.dumps({"ticket": {"id": 12}, "article": {}}).encode()
    with live(app) as srv:
        ok = requests.post(srv.url + "/webhooks/zammad", data=body,
                           headers=zammad_webhook.signed_headers(body, SECRET, "zd-1"))
        assert ok.status_code == 202, ok.text
        bad = requests.post(srv.url + "/webhooks/zammad", data=body,
                            headers=zammad_webhook.signed_headers(body, "wrong", "zd-2"))
        assert_json_error(bad, 401)
        assert_json_error(requests.post(srv.url + URL, data=body, headers={"Content-Type": "application/json"}),
                          404, "unknown_helpdesk")
    assert queue_len(redis_conn) == 1


# -- counters shared through Redis ---------------------------------
def test_metrics_count_received_rejected_and_duplicates(server, http):
    raw, headers = signed(event_body(event_id="evt-metrics"))
    http.post(server.url + URL, data=raw, headers=headers)
    http.post(server.url + URL, data=raw, headers=headers)
    http.post(server.url + URL, data=raw, headers={"Content-Type": "application/json"})
    response = http.get(server.url + "/metrics", headers={"Authorization": "Bearer admin-token-xyz"})
    assert response.status_code == 200
    text = response.text
    assert 'tiergate_webhooks_received_total{helpdesk="zendesk"} 3.0' in text, text
    assert 'tiergate_webhooks_rejected_total{reason="missing_signature"} 1.0' in text
    assert "tiergate_duplicates_dropped_total 1.0" in text
    assert SECRET not in text


def test_create_app_without_config_reads_the_environment(monkeypatch, redis_url):
    for var in Settings.ENV.values():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("REDIS_URL", redis_url)
    with pytest.raises(ConfigError, match="TIERGATE_WEBHOOK_SECRET"):
        create_app()
    monkeypatch.setenv("TIERGATE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("TIERGATE_MAX_BODY_BYTES", "1234")
    app = create_app()
    assert app.extensions["tiergate"].settings.max_body_bytes == 1234
    assert app.config["MAX_CONTENT_LENGTH"] == 1234


def test_copy_of_a_delivery_still_being_stored_is_told_to_retry(server, http, redis_conn):
    redis_conn.set("tg:dedupe:zendesk:evt-pending", b"pending", ex=60)  # another receiver mid-store
    raw, headers = signed(event_body(event_id="evt-pending"))
    response = http.post(server.url + URL, data=raw, headers=headers)
    assert_json_error(response, 503, "in_flight")
    assert response.headers["Retry-After"]
    assert queue_len(redis_conn) == 0


def test_dashboard_is_wired_behind_the_admin_token(redis_conn, redis_url, tmp_path):
    app = make_app(redis_url, db_url=f"sqlite:///{tmp_path}/log.sqlite")
    with live(app) as srv, requests.Session() as http:
        denied = http.get(srv.url + "/dashboard/data.json")
        assert denied.status_code == 401 and "admin-token-xyz" not in denied.text
        assert http.get(srv.url + "/dashboard/data.json",
                        headers={"Authorization": "Bearer wrong-token"}).status_code == 401
        ok = http.get(srv.url + "/dashboard/data.json", headers={"Authorization": "Bearer admin-token-xyz"})
        assert ok.status_code == 200, ok.text[:300]
        page = http.get(srv.url + "/dashboard", headers={"Authorization": "Bearer admin-token-xyz"})
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
