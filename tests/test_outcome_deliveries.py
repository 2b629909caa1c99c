"""Outcome deliveries at the receiver: the verifiers route them by the payload's
``tiergate_event`` (Zendesk) or the trigger's name (Zammad); the receiver queues an outcome job,
never joined with a decision job of the same ticket, with the same signature check and dedupe."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import requests
from rq.job import Job
from rq.serializers import JSONSerializer

from test_web_support import SECRET, live, signed
from tiergate.connectors import zammad_webhook, zendesk_webhook
from tiergate.connectors.outcome_events import outcome_kind, trigger_body
from tiergate.plugin.core.errors import PayloadError
from tiergate.plugin.web import create_app

NOW = datetime(2024, 4, 17, 17, 18, 10, tzinfo=timezone.utc)


def _zendesk(body: dict):
    raw, headers = signed(body, at=NOW)
    return zendesk_webhook.verify(headers, raw, SECRET, NOW)


@pytest.mark.parametrize("kind", ["solved", "reopened", "satisfaction"])
def test_zendesk_outcome_payload_is_an_outcome_delivery(kind):
    body = json.loads(trigger_body(kind).replace("{{ticket.id}}", "42"))
    d = _zendesk(body)
    assert (d.ticket_id, d.event_type, outcome_kind(d.event_type)) == (42, f"outcome:{kind}", kind)
    assert outcome_kind(_zendesk({"ticket_id": "42"}).event_type) is None


def test_zendesk_unknown_outcome_kind_names_the_field():
    with pytest.raises(PayloadError) as err:
        _zendesk({"ticket_id": "42", "tiergate_event": "deleted"})
    assert err.value.field == "tiergate_event"


def test_zammad_outcome_trigger_name_routes_the_delivery():
    body = json.dumps({"ticket": {"id": 7}, "article": {}}).encode()
    kinds = {}
    for trigger in ("tiergate: ticket closed", "tiergate: ticket reopened", "tiergate: customer article"):
        headers = zammad_webhook.signed_headers(body, SECRET, f"dl-{trigger}", trigger)
        kinds[trigger] = outcome_kind(zammad_webhook.verify(headers, body, SECRET, NOW).event_type)
    assert kinds == {"tiergate: ticket closed": "solved", "tiergate: ticket reopened": "reopened",
                     "tiergate: customer article": None}


def test_receiver_queues_an_outcome_job_beside_a_waiting_decision_job(redis_server, redis_conn, redis_url):
    app = create_app({"redis_url": redis_url, "webhook_secret": SECRET})
    with live(app) as srv, requests.Session() as http:
        raw, headers = signed({"ticket_id": 55})
        decision = http.post(srv.url + "/webhooks/zendesk", data=raw, headers=headers)
        raw, headers = signed({"ticket_id": "55", "tiergate_event": "solved"})
        outcome = http.post(srv.url + "/webhooks/zendesk", data=raw,
                            headers={**headers, "X-Zendesk-Webhook-Invocation-Id": "inv-solved"})
        again = http.post(srv.url + "/webhooks/zendesk", data=raw,
                          headers={**headers, "X-Zendesk-Webhook-Invocation-Id": "inv-solved"})
        raw, headers = signed({"ticket_id": "55", "tiergate_event": "satisfaction", "n": 2})
        rated = http.post(srv.url + "/webhooks/zendesk", data=raw, headers=headers)
        forged = http.post(srv.url + "/webhooks/zendesk", data=raw, headers={**headers, zendesk_webhook.SIGNATURE_HEADER: "x"})
    assert decision.status_code == outcome.status_code == 202
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert rated.status_code == 202 and rated.json()["job_id"] == outcome.json()["job_id"], \
        "a second outcome joins the outcome job still waiting"
    assert forged.status_code == 401
    ids = [i.decode() for i in redis_conn.lrange("rq:queue:tiergate", 0, -1)]
    assert ids == [decision.json()["job_id"], outcome.json()["job_id"]]
    funcs = [Job.fetch(i, connection=redis_conn, serializer=JSONSerializer).func_name for i in ids]
    assert funcs == ["tiergate.jobs.process.process_delivery", "tiergate.jobs.ticket_outcome.record_outcome"]


def test_outcome_job_retries_an_unavailable_desk_and_fails_clearly_on_a_missing_ticket(
        zendesk_server, redis_server, redis_conn, redis_url, tmp_path):
    from dataclasses import replace

    from rq.registry import ScheduledJobRegistry

    from tiergate.connectors.base import Delivery
    from tiergate.connectors.outcome_events import event_type
    from tiergate.jobs.queues import queue
    from tiergate.jobs.runtime import build_runtime
    from tiergate.jobs.ticket_outcome import observe_outcome
    from tiergate.plugin.core.errors import NotFound
    from tiergate.runtime.config import Settings

    settings = Settings(redis_url=redis_url, webhook_secret=SECRET, db_url=f"sqlite:///{tmp_path}/log.sqlite",
                        **zendesk_server.settings_overrides())
    rt = build_runtime(settings)
    ticket = zendesk_server.seed_ticket("Export fails", "It crashes", status="solved")
    d = Delivery(delivery_id="inv-1", ticket_id=ticket["id"], event_type=event_type("solved"), helpdesk="zendesk",
                 received_at=NOW)
    zendesk_server.set_knobs(fail_next=10, fail_status=503)
    result = observe_outcome(rt, d)
    assert result["status"] == "rescheduled" and result["why"].startswith("unavailable")
    scheduled = ScheduledJobRegistry(queue=queue(redis_conn, settings)).get_job_ids()
    assert result["job_id"] in scheduled
    job = Job.fetch(result["job_id"], connection=redis_conn, serializer=JSONSerializer)
    assert job.func_name == "tiergate.jobs.ticket_outcome.record_outcome" and job.args[1] == 1
    assert rt.decision_log.ticket("zendesk", ticket["id"]) is None, "nothing recorded while the desk fails"

    zendesk_server.set_knobs(fail_next=0)
    assert observe_outcome(rt, d)["status"] == "recorded"
    facts = rt.decision_log.ticket("zendesk", ticket["id"])
    assert facts.status == "solved" and facts.solved_at is not None

    with pytest.raises(NotFound):
        observe_outcome(rt, replace(d, ticket_id=999999))
