"""On-call pages through real channels: email over SMTP, PagerDuty Events API v2, Slack incoming
webhooks and plain JSON webhooks; retried, deduplicated and recorded.

A decision's ``Notification`` names an on-call route; ``enqueue_pages`` turns it into one RQ job
per channel of that route (``oncall.routes.<name>.channels`` in the manifest, else the route's own
kind and target). Job ids come from the page fingerprint and the channel, so a re-decided ticket
never queues a second job for a page, and a page already sent (``tg:page:sent:<fp>:<channel>``,
30 days) is never sent again. ``deliver_page`` sends once; any failure (connection refused, SMTP
error, HTTP 429 or 5xx, another 4xx) raises so RQ retries it after ``RETRY_INTERVALS`` seconds;
after the last attempt the job lands in RQ's failed registry (``tiergate failed list``). Every
attempt's outcome goes to the ``oncall_pages`` table of the decision log (``jobs.pages_log``). An
email channel while the manifest names no ``oncall.smtp`` server is recorded once as
``not_configured`` and not queued.

PagerDuty: ``{"routing_key", "event_action": "trigger", "dedup_key": <fingerprint>, "payload":
{"summary", "source": "tiergate", "severity", "custom_details"}}`` to the channel's URL (the
routing key is read from the environment variable the channel names). Slack: ``{"text"}``.
Email: a plain-text message whose ``Message-ID`` carries the fingerprint.
"""
from __future__ import annotations

import hashlib
import logging
import os
import smtplib
from dataclasses import asdict
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import requests
from redis import Redis
from rq import Retry, get_current_job

from tiergate.runtime import keys
from tiergate.jobs.outcome import Outcome
from tiergate.jobs.pages_log import record_page
from tiergate.jobs.queues import queue, safe_job_id
from tiergate.jobs.runtime import get_runtime
from tiergate.plugin.core.model import Notification
from tiergate.plugin.core.oncall_schema import Channel

log = logging.getLogger("tiergate.jobs.oncall")

PAGE_FUNC = "tiergate.jobs.oncall.deliver_page"
RETRY_INTERVALS = (2, 5, 15, 60, 300, 900)   # seconds between attempts (then: failed registry)
SENT_TTL = 30 * 24 * 3600
HTTP_TIMEOUT = 5.0


class PageFailed(RuntimeError):
    """One attempt failed; RQ retries the job."""


def channel_id(channel: Channel) -> str:
    return hashlib.sha256(f"{channel.kind}\n{channel.target}".encode()).hexdigest()[:16]



def channels_for(manifest: Any, note: Notification) -> tuple[Channel, ...]:
    route = manifest.oncall.routes.get(note.route) if manifest is not None else None
    if route is not None and route.channels:
        return tuple(route.channels)
    return (Channel(kind=note.kind, target=note.target),)


def enqueue_pages(conn: Redis, settings: Any, manifest: Any, note: Notification, *, helpdesk: str,
                  ticket_id: int) -> list[str]:
    """One delivery job per channel not yet sent and not already queued; returns their ids."""
    fingerprint = note.fingerprint or hashlib.sha256(note.body.encode()).hexdigest()[:32]
    smtp = getattr(getattr(manifest, "oncall", None), "smtp", None)
    q = queue(conn, settings)
    ids = []
    for channel in channels_for(manifest, note):
        if conn.exists(keys.page_sent(fingerprint, channel_id(channel))):
            continue
        if channel.kind == "email" and smtp is None:
            # not configured is not a transient failure: say so once instead of retrying for hours
            if conn.set(keys.page_unsent(fingerprint, channel_id(channel)), 1, nx=True, ex=SENT_TTL):
                log.warning("page %s to %s not sent: no oncall.smtp server in the manifest", fingerprint,
                            channel.target)
                record_page({"notification": {**note.to_dict(), "fingerprint": fingerprint},
                             "channel": asdict(channel), "helpdesk": helpdesk, "ticket_id": ticket_id,
                             "db_url": settings.db_url}, status="not_configured", attempt=0,
                            detail="no oncall.smtp server in the manifest", where=channel.target)
            continue
        job_id = safe_job_id("tg-page", fingerprint, channel.kind, channel_id(channel))
        existing = q.fetch_job(job_id)
        if existing is not None and existing.get_status(refresh=False) in ("queued", "scheduled", "started", "deferred"):
            continue
        payload = {"notification": {**note.to_dict(), "fingerprint": fingerprint},
                   "channel": asdict(channel), "smtp": asdict(smtp) if smtp is not None else None,
                   "helpdesk": helpdesk, "ticket_id": ticket_id, "db_url": settings.db_url}
        q.enqueue(PAGE_FUNC, payload, job_id=job_id, retry=Retry(max=len(RETRY_INTERVALS),
                  interval=list(RETRY_INTERVALS)), job_timeout=60, result_ttl=7 * 24 * 3600,
                  failure_ttl=30 * 24 * 3600, description=f"page {note.route} via {channel.kind}",
                  at_front=True)   # a page must not wait behind the ticket jobs queued meanwhile
        ids.append(job_id)
    return ids


# -- senders ------------------------------------------------------------------------------------
def _post(url: str, body: dict) -> str:
    try:
        response = requests.post(url, json=body, timeout=HTTP_TIMEOUT)
    except requests.RequestException as exc:
        raise PageFailed(f"POST {_host(url)}: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise PageFailed(f"POST {_host(url)}: HTTP {response.status_code}")
    return f"HTTP {response.status_code}"


def _host(url: str) -> str:
    """Scheme and host only: a Slack webhook's path is its secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"


def send_email(smtp: dict | None, note: dict, to: str) -> str:
    if not smtp:
        raise PageFailed("no oncall.smtp server configured for email pages")
    message = EmailMessage()
    message["From"] = smtp["sender"]
    message["To"] = to
    message["Subject"] = note["subject"]
    message["Message-ID"] = f"<{note['fingerprint']}.{channel_id(Channel('email', to))}@tiergate>"
    message["X-Tiergate-Page"] = note["fingerprint"]
    message.set_content(note["body"])
    try:
        with smtplib.SMTP(smtp["host"], int(smtp["port"]), timeout=float(smtp["timeout"])) as client:
            if smtp.get("starttls"):
                client.starttls()
            if smtp.get("username"):
                client.login(smtp["username"], os.environ.get(smtp.get("password_env") or "", ""))
            refused = client.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise PageFailed(f"SMTP {smtp['host']}:{smtp['port']}: {type(exc).__name__}") from None
    if refused:
        raise PageFailed(f"SMTP refused {sorted(refused)}")
    return f"SMTP {smtp['host']}:{smtp['port']} accepted"


def pagerduty_body(note: dict, channel: dict, ticket_id: int, helpdesk: str) -> dict:
    key = os.environ.get(channel.get("routing_key_env") or "", "")
    if not key:
        raise PageFailed(f"PagerDuty routing key: environment variable {channel.get('routing_key_env')} is not set")
    return {"routing_key": key, "event_action": "trigger", "dedup_key": note["fingerprint"],
            "client": "tiergate",
            "payload": {"summary": note["subject"][:1024], "source": "tiergate",
                        "severity": channel.get("severity") or "critical",
                        "component": f"{helpdesk} ticket {ticket_id}", "group": note["route"],
                        "custom_details": {"ticket_id": ticket_id, "helpdesk": helpdesk,
                                           "route": note["route"], "body": note["body"]}}}


def slack_body(note: dict) -> dict:
    return {"text": f"*{note['subject']}*\n{note['body']}"}


def _send(payload: dict) -> str:
    note, channel = payload["notification"], payload["channel"]
    kind, target = channel["kind"], channel["target"]
    if kind == "email":
        return send_email(payload.get("smtp"), note, target)
    if kind == "pagerduty":
        return _post(target, pagerduty_body(note, channel, payload["ticket_id"], payload["helpdesk"]))
    if kind == "slack":
        return _post(target, slack_body(note))
    return _post(target, note)


def deliver_page(payload: dict) -> dict:
    """RQ job: send one page through one channel, at most once."""
    conn = get_runtime().conn
    note, channel = payload["notification"], Channel(**payload["channel"])
    key = keys.page_sent(note["fingerprint"], channel_id(channel))
    job = get_current_job()
    attempt = 1 + (len(RETRY_INTERVALS) - job.retries_left if job is not None and job.retries_left is not None else 0)
    where = channel.target if channel.kind == "email" else _host(channel.target)
    if conn.exists(key):
        return {"status": Outcome.ALREADY_SENT, "channel": channel.kind}
    try:
        detail = _send(payload)
    except PageFailed as exc:
        last = job is None or not job.retries_left
        record_page(payload, status="failed" if last else "retrying", attempt=attempt, detail=str(exc), where=where)
        log.warning("page %s via %s to %s failed (attempt %d): %s", note["fingerprint"], channel.kind,
                    where, attempt, exc)
        raise
    conn.set(key, 1, ex=SENT_TTL)
    record_page(payload, status="sent", attempt=attempt, detail=detail, where=where)
    log.info("page %s via %s to %s sent (attempt %d)", note["fingerprint"], channel.kind, where, attempt)
    return {"status": Outcome.SENT, "channel": channel.kind, "attempt": attempt}
