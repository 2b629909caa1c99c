"""Webhooks of the local Zendesk: creation with signing secrets, queued deliveries (trigger
bodies and event payloads), redelivery, and the webhook views (signing secret, test). Webhooks are
answered like Zendesk's (``hook_view``): no password or token in ``authentication.data``,
``updated_at``/``updated_by`` once updated. ``POST /api/v2/webhooks/test`` answers
``{"response": {"headers": [{"key", "value"}], "status_code": N, "payload": "<body>"}}``."""
from __future__ import annotations

import copy
import json
import secrets
import uuid
from typing import Any

import requests
from flask import Flask, jsonify, request

from tiergate.connectors.zendesk_webhook import (INVOCATION_ID_HEADER, WEBHOOK_ID_HEADER, format_timestamp,
                                                 signed_headers)
from tiergate.localdesk.zendesk.account import ACCOUNT_ID, BOT_ID, TEST_SIGNING_SECRET
from tiergate.localdesk.zendesk.api import API, json_body
from tiergate.localdesk.zendesk.errors import ApiError, not_found
from tiergate.localdesk.zendesk.records import iso, utcnow
from tiergate.localdesk.zendesk.triggers import render



class WebhookStore:
    """``State`` methods that create webhooks and queue their deliveries."""

    def _queue_event(self, ticket: dict, kind: str, comment: dict | None = None, before: dict | None = None) -> int:
        event_type = f"zen:event-type:ticket.{kind}"
        queued = 0
        for hook in self.collections["webhooks"].values():
            if hook.get("status") == "active" and event_type in (hook.get("subscriptions") or []):
                payload = _event_payload(ticket, event_type, comment, before, self)
                self._queue(hook, ticket["id"], event_type, json.dumps(payload))
                queued += 1
        return queued

    def _queue(self, hook: dict, ticket_id: int, event: str, body: str) -> None:
        job = {"invocation_id": uuid.uuid4().hex, "webhook_id": hook["id"], "ticket_id": ticket_id,
               "event": event, "endpoint": hook["endpoint"], "method": hook.get("http_method", "POST"),
               "secret": self.signing_secrets[hook["id"]], "body": body, "attempts": 0, "status": None,
               "ok": False, "error": None}
        self.deliveries.append(job)
        self.outbox(job)

    def redeliver(self, ticket_id: int, event: str = "created") -> int:
        """Re-send a ticket's webhooks: every active trigger webhook (its template body) and every
        event webhook subscribed to ``zen:event-type:ticket.<event>``. Returns how many were queued."""
        with self.lock:
            ticket = self.ticket(ticket_id)
            sent: set[str] = set()          # once per webhook, with the first trigger body calling it
            for trigger in self.collections["triggers"].values():
                for action in trigger.get("actions") or []:
                    if trigger.get("active", True) and action.get("field") == "notification_webhook":
                        value = action["value"] if not isinstance(action["value"], str) else json.loads(action["value"])
                        hook = self.collections["webhooks"].get(str(value[0]))
                        if hook and hook.get("status") == "active" and hook["id"] not in sent:
                            self._queue(hook, ticket_id, "redeliver:" + trigger["title"], render(value[1], ticket))
                            sent.add(hook["id"])
            return len(sent) + self._queue_event(ticket, event)

    def create_webhook(self, data: dict) -> dict:
        with self.lock:
            for key in ("name", "endpoint"):
                if not data.get(key):
                    raise ApiError(400, "InvalidInput", f"webhook.{key}: required")
            wid = "01" + secrets.token_hex(12).upper()
            now = iso(utcnow())
            secret = (data.get("signing_secret") or {}).get("secret") or secrets.token_urlsafe(32)
            hook = {"id": wid, "name": data["name"], "description": data.get("description"),
                    "status": data.get("status", "active"),
                    "subscriptions": list(data.get("subscriptions") or ["conditional_ticket_events"]),
                    "created_at": now, "created_by": str(BOT_ID), "endpoint": data["endpoint"],
                    "http_method": data.get("http_method", "POST"), "request_format": data.get("request_format", "json")}
            for key in ("authentication", "custom_headers"):
                if data.get(key):
                    hook[key] = copy.deepcopy(data[key])
            self.collections["webhooks"][wid] = hook
            self.signing_secrets[wid] = secret
            return hook_view(hook)


CREDENTIALS = ("password", "token")


def hook_view(hook: dict) -> dict:
    """A webhook as Zendesk answers it: its authentication without the credentials."""
    out = copy.deepcopy(hook)
    if out.get("description") is None:
        out.pop("description", None)
    auth = out.get("authentication")
    if isinstance(auth, dict) and isinstance(auth.get("data"), dict):
        auth["data"] = {k: v for k, v in auth["data"].items() if k not in CREDENTIALS}
    return out


def _sid(value: Any) -> str | None:
    return None if value is None else str(value)


def _event_payload(ticket: dict, event_type: str, comment: dict | None, before: dict | None,
                   state: Any) -> dict:
    detail = {"actor_id": _sid(comment["author_id"] if comment else BOT_ID), "assignee_id": _sid(ticket["assignee_id"]),
              "brand_id": _sid(ticket.get("brand_id")), "created_at": ticket["created_at"],
              "custom_status": None, "description": ticket["description"], "external_id": ticket["external_id"],
              "form_id": _sid(ticket.get("ticket_form_id")), "group_id": _sid(ticket["group_id"]),
              "id": str(ticket["id"]), "is_public": ticket["is_public"],
              "organization_id": _sid(ticket["organization_id"]), "priority": (ticket["priority"] or "").upper() or None,
              "requester_id": _sid(ticket["requester_id"]), "status": ticket["status"].upper(),
              "subject": ticket["subject"], "submitter_id": _sid(ticket["submitter_id"]), "tags": list(ticket["tags"]),
              "type": (ticket["type"] or "").upper() or None, "updated_at": ticket["updated_at"],
              "via": {"channel": ticket["via"]["channel"]}}
    event: dict[str, Any] = {}
    if event_type.endswith("comment_added") and comment:
        author = state.users.get(comment["author_id"]) or {}
        event = {"comment": {"id": str(comment["id"]), "body": comment["body"], "is_public": comment["public"],
                             "author": {"id": _sid(comment["author_id"]), "is_staff": author.get("role") != "end-user",
                                        "name": author.get("name")}}}
    else:
        field = {"group_assignment_changed": "group_id", "status_changed": "status", "priority_changed": "priority",
                 "agent_assignment_changed": "assignee_id", "tags_changed": "tags"}.get(event_type.rsplit(".", 1)[1])
        if field and before is not None:
            event = {"current": ticket.get(field) if field == "tags" else _sid(ticket.get(field)),
                     "previous": before.get(field) if field == "tags" else _sid(before.get(field))}
    return {"type": event_type, "account_id": ACCOUNT_ID, "id": str(uuid.uuid4()), "time": format_timestamp(utcnow()),
            "zendesk_event_version": "2022-11-06", "subject": f"zen:ticket:{ticket['id']}", "detail": detail,
            "event": event}


def register(app: Flask, state: Any) -> None:
    """Webhook views: create, signing secret, test."""
    api = API

    @app.post(f"{api}/webhooks")
    def webhooks_create():
        data = json_body().get("webhook")
        if not isinstance(data, dict):
            raise ApiError(400, "InvalidInput", "webhook: object required")
        return jsonify({"webhook": state.create_webhook(data)}), 201

    @app.get(f"{api}/webhooks/<webhook_id>/signing_secret")
    def webhooks_secret(webhook_id: str):
        with state.lock:
            if webhook_id not in state.signing_secrets:
                raise not_found("webhook")
            return jsonify({"signing_secret": {"algorithm": "SHA256", "secret": state.signing_secrets[webhook_id]}})

    @app.post(f"{api}/webhooks/<webhook_id>/signing_secret")
    def webhooks_secret_reset(webhook_id: str):
        with state.lock:
            if webhook_id not in state.signing_secrets:
                raise not_found("webhook")
            state.signing_secrets[webhook_id] = secrets.token_urlsafe(32)
            return jsonify({"signing_secret": {"algorithm": "SHA256", "secret": state.signing_secrets[webhook_id]}}), 201

    @app.post(f"{api}/webhooks/test")
    def webhooks_test():
        body = json_body()
        req = body.get("request") or {}
        hook_id = request.args.get("webhook_id") or body.get("webhook_id")
        with state.lock:
            hook = state.collections["webhooks"].get(hook_id) if hook_id else None
            if hook_id and hook is None:
                raise not_found("webhook")
            secret = state.signing_secrets[hook_id] if hook else TEST_SIGNING_SECRET
        endpoint = req.get("endpoint") or (hook or {}).get("endpoint")
        if not endpoint:
            raise ApiError(400, "InvalidInput", "request.endpoint: required")
        payload = req.get("payload")
        raw = (payload if isinstance(payload, str) else json.dumps(payload or {"ticket_id": "1"})).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "Zendesk Webhook",
                   INVOCATION_ID_HEADER: uuid.uuid4().hex,
                   **signed_headers(raw, secret, format_timestamp(utcnow()))}
        if hook_id:
            headers[WEBHOOK_ID_HEADER] = hook_id
        try:
            r = requests.request(req.get("http_method") or (hook or {}).get("http_method", "POST"), endpoint,
                                 data=raw, headers=headers, timeout=10)
            out = {"headers": [{"key": k, "value": v} for k, v in r.headers.items()], "status_code": r.status_code,
                   "payload": r.text[:2000]}
        except requests.RequestException as exc:
            out = {"headers": [], "status_code": 0, "payload": f"{type(exc).__name__}: {exc}"}
        return jsonify({"response": out})
