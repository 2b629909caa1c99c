"""On-call pages through real channels: a real SMTP server (aiosmtpd), a real HTTP receiver for
PagerDuty Events v2, Slack and webhook shapes, real Redis and real RQ workers; retried,
deduplicated, recorded in the decision log (``oncall_pages``)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from fixtures_stack import build_stack, wait_until
from oncall_support import Receiver, SmtpServer
from tiergate.jobs import oncall
from tiergate.jobs.pages_log import pages
from tiergate.runtime.config import Settings
from tiergate.plugin.core.manifest import load_manifest, read_document
from tiergate.plugin.core.model import Notification

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture
def smtp():
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


def _manifest(repo_root, smtp: SmtpServer, receiver: Receiver, channels: list[dict]) -> dict:
    doc = read_document(repo_root / "manifest.json")
    doc["oncall"]["smtp"] = {"host": "127.0.0.1", "port": smtp.port, "sender": "tiergate@demo.example", "timeout": 5}
    doc["oncall"]["routes"]["support_oncall"]["channels"] = channels
    # the support desk is closed all of today: every ticket now is after hours
    today = datetime.now(ZoneInfo(doc["calendars"]["support"]["time_zone"])).weekday()
    other = DAYS[(today + 3) % 7]
    doc["calendars"]["support"]["intervals"] = [{"day": other, "start": "08:00", "end": "09:00"}]
    return doc


URGENT = {
    "external_id": "oncall-urgent-1", "subject": "Checkout is down for all our customers",
    "description": "Our whole checkout has been failing since 20 minutes, every payment errors out. "
                   "We are losing orders right now, please help urgently.",
    "priority": "urgent", "status": "new", "type": "incident", "channel": "email", "tags": [],
    "age_minutes": 5, "group_id": 101, "assignee_id": None,
    "requester": {"name": "Lena Ortiz", "email": "lena@contoso.example"},
    "organization": {"name": "Contoso", "segment": "enterprise", "account_value": 50000, "renewal_in_days": 90},
    "comments": [],
}


def test_after_hours_urgent_ticket_pages_by_email_and_post_within_5s_once(redis_conn, redis_url, tmp_path,
                                                                          repo_root, smtp, receiver, monkeypatch):
    monkeypatch.setenv("TG_TEST_PD_KEY", "pd-routing-key-123")
    channels = [{"kind": "email", "target": "support-oncall@demo.example"},
                {"kind": "pagerduty", "target": receiver.url + "/v2/enqueue", "routing_key_env": "TG_TEST_PD_KEY"},
                {"kind": "slack", "target": receiver.url + "/services/T0/B0/secretpath"}]
    doc = _manifest(repo_root, smtp, receiver, channels)
    load_manifest(doc)   # valid
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(doc))
    stack, close = build_stack("zendesk", redis_url, tmp_path, manifest_path=str(path))
    try:
        stack.runtime.enricher(stack.runtime.manifest())   # as make_worker does: forked jobs inherit it
        started = time.monotonic()
        stack.import_and_wait_for_job(URGENT)
        queued = time.monotonic() - started
        stack.work()
        print(f"\nwebhook job queued after {queued:.2f}s, worker burst done after {time.monotonic() - started:.2f}s")
        support = lambda: [m for m in smtp.messages if m[1] == ["support-oncall@demo.example"]]  # noqa: E731
        wait_until(lambda: support() and receiver.to("/v2/enqueue") and receiver.to("/services/T0/B0/secretpath"),
                   timeout=5)
        arrived = max(support()[0][0], receiver.to("/v2/enqueue")[0][0]) - started
        print(f"\npage arrived by email and POST {arrived:.2f}s after the ticket was created")
        assert arrived < 5
        # re-deciding the same ticket (a later webhook, the sweep) pages nobody again
        ticket_id = next(iter(stack.connector().iter_tickets())).id
        from tiergate.jobs.process import process_ticket
        from tiergate.jobs.runtime import set_runtime

        set_runtime(stack.runtime)
        process_ticket("zendesk", ticket_id, "timer", "again-1", direct=True)
        stack.work()
        time.sleep(1.0)
    finally:
        close()
    # one page per route: this ticket also pages engineering (outage_p1), by its route's email
    by_rcpt = sorted(m[1][0] for m in smtp.messages)
    assert by_rcpt == ["eng-oncall@demo.example", "support-oncall@demo.example"], by_rcpt
    ((_, rcpts, message),) = support()
    assert "urgent_after_hours" in message["Subject"] and str(ticket_id) in message["Subject"]
    assert message["X-Tiergate-Page"] and message.get_content().strip()
    (pd,) = receiver.to("/v2/enqueue")
    body = pd[2]
    assert body["event_action"] == "trigger" and body["routing_key"] == "pd-routing-key-123"
    assert body["dedup_key"] == message["X-Tiergate-Page"]
    assert body["payload"]["severity"] == "critical" and body["payload"]["source"] == "tiergate"
    assert body["payload"]["summary"] == message["Subject"]
    (slack,) = receiver.to("/services/T0/B0/secretpath")
    assert slack[2]["text"].startswith(f"*{message['Subject']}*")
    rows = pages(stack.settings.db_url)
    assert sorted((r["channel"], r["status"]) for r in rows) == [("email", "sent"), ("email", "sent"),
                                                                  ("pagerduty", "sent"), ("slack", "sent")]
    assert all("secretpath" not in r["target"] for r in rows)


def _env(redis_url: str, db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIERGATE_", "ZENDESK_", "REDIS_URL"))}
    env.update(REDIS_URL=redis_url, TIERGATE_DB_URL=db_url, ZENDESK_SUBDOMAIN="acme",
               ZENDESK_EMAIL="bot@example.com", ZENDESK_API_TOKEN="tok-123456", ZENPY_FORCE_SCHEME="http",
               ZENPY_FORCE_NETLOC="127.0.0.1:9", **extra)
    return env


def test_failing_channels_are_retried_until_delivered_and_never_doubled(redis_conn, redis_url, tmp_path,
                                                                          repo_root, smtp, receiver):
    channels = [{"kind": "email", "target": "eng@demo.example"},
                {"kind": "pagerduty", "target": receiver.url + "/pd", "routing_key_env": "TG_TEST_PD_KEY"},
                {"kind": "slack", "target": receiver.url + "/slack"},
                {"kind": "webhook", "target": receiver.url + "/hook"}]
    manifest = load_manifest(_manifest(repo_root, smtp, receiver, channels))
    db_url = f"sqlite:///{tmp_path}/log.sqlite"
    settings = Settings(redis_url=redis_url, db_url=db_url)
    receiver.fail_next = {"/pd": 2, "/slack": 1}        # 503 twice, then once: retried after 2 s, 5 s
    note = Notification(route="support_oncall", kind="email", target="support-oncall@demo.example",
                        subject="[tiergate] after-hours escalation: ticket #77", body="Ticket 77 needs you.",
                        fingerprint="fp-test-77")
    ids = oncall.enqueue_pages(redis_conn, settings, manifest, note, helpdesk="zendesk", ticket_id=77)
    assert len(ids) == 4
    # the same page again while its jobs wait: nothing more is queued
    assert oncall.enqueue_pages(redis_conn, settings, manifest, note, helpdesk="zendesk", ticket_id=77) == []
    worker = subprocess.Popen([sys.executable, "-m", "tiergate.plugin.cli", "worker", "--log-level", "WARNING"],
                              env=_env(redis_url, db_url, TG_TEST_PD_KEY="pd-key-xyz"),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: smtp.messages and receiver.to("/pd") and receiver.to("/slack") and receiver.to("/hook"),
                   timeout=60, interval=0.2)
        time.sleep(1.5)
    finally:
        worker.terminate()
        try:
            out, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:       # a loaded machine: the deliveries are what count
            worker.kill()
            out, _ = worker.communicate(timeout=30)
    assert len(smtp.messages) == 1 and len(receiver.to("/pd")) == 1, out[-3000:]
    assert len(receiver.to("/slack")) == 1 and len(receiver.to("/hook")) == 1
    assert receiver.to("/hook")[0][2]["fingerprint"] == "fp-test-77"
    # sent: a later identical page is not queued at all
    assert oncall.enqueue_pages(redis_conn, settings, manifest, note, helpdesk="zendesk", ticket_id=77) == []
    rows = pages(db_url)
    pd_rows = [(r["status"], r["attempt"]) for r in rows if r["channel"] == "pagerduty"]
    assert pd_rows == [("retrying", 1), ("retrying", 2), ("sent", 3)], pd_rows
    assert [(r["status"], r["attempt"]) for r in rows if r["channel"] == "slack"] == [("retrying", 1), ("sent", 2)]
    assert [r["status"] for r in rows if r["channel"] in ("email", "webhook")] == ["sent", "sent"]
    assert "pd-key-xyz" not in out


def test_an_unreachable_smtp_server_is_retried_and_recorded(redis_conn, redis_url, tmp_path, repo_root, receiver):
    from tiergate.plugin.embedded import free_port

    class Down:
        port = free_port()
    manifest = load_manifest(_manifest(repo_root, Down, receiver, [{"kind": "email", "target": "x@demo.example"}]))
    payload = {"notification": {"route": "support_oncall", "kind": "email", "target": "x@demo.example",
                                "subject": "s", "body": "b", "fingerprint": "fp-down"},
               "channel": {"kind": "email", "target": "x@demo.example", "routing_key_env": None,
                           "severity": "critical"},
               "smtp": {"host": "127.0.0.1", "port": Down.port, "sender": "t@demo.example", "timeout": 2,
                        "starttls": False, "username": None, "password_env": None},
               "helpdesk": "zendesk", "ticket_id": 5, "db_url": f"sqlite:///{tmp_path}/log.sqlite"}
    assert manifest.oncall.smtp.port == Down.port
    with pytest.raises(oncall.PageFailed, match="SMTP 127.0.0.1"):
        oncall._send(payload)


def test_email_page_without_an_smtp_server_is_recorded_once_and_not_queued(redis_conn, redis_url, tmp_path, repo_root):
    manifest = load_manifest(json.loads((repo_root / "manifest.json").read_text()))
    assert manifest.oncall.smtp is None
    db_url = f"sqlite:///{tmp_path}/log.sqlite"
    settings = Settings(redis_url=redis_url, db_url=db_url)
    note = Notification(route="support_oncall", kind="email", target="support-oncall@demo.example",
                        subject="s", body="b", fingerprint="fp-nosmtp")
    for _ in range(2):
        assert oncall.enqueue_pages(redis_conn, settings, manifest, note, helpdesk="zendesk", ticket_id=3) == []
    assert [(r["status"], r["channel"]) for r in pages(db_url)] == [("not_configured", "email")]
