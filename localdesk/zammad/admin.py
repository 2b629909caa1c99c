"""The local Zammad's admin objects: webhooks and triggers CRUD (triggers checked against the
conditions the server understands)."""
from __future__ import annotations

import re
from typing import Mapping
from urllib.parse import urlsplit

from flask import Flask

from tiergate.localdesk.zammad.account import ApiError, ts
from tiergate.localdesk.zammad.api import json_body, me, ok
from tiergate.localdesk.zammad.desk import Desk
from tiergate.localdesk.zammad.triggers import check_condition


def register(app: Flask, desk: Desk) -> None:
    """``/api/v1/webhooks`` and ``/api/v1/triggers``."""
    state = desk.state

    def crud(kind: str, store: dict, required: tuple[str, ...], check=None):
        label = kind.capitalize()

        def index():
            with state.lock:
                return ok([store[i] for i in sorted(store)])

        def create():
            data = json_body()
            for key in required:
                if data.get(key) in (None, ""):
                    raise ApiError(422, f"{key}: required")
            if check:
                check(data)
            with state.lock:
                oid = state.next_id(kind)
                at = ts(desk.now())
                store[oid] = {**{k: v for k, v in data.items() if k != "id"}, "id": oid,
                              "active": data.get("active", True), "created_by_id": me(),
                              "updated_by_id": me(), "created_at": at, "updated_at": at}
                return ok(store[oid], 201)

        def show(oid: int):
            with state.lock:
                if oid not in store:
                    raise ApiError(404, f"Couldn't find {label} with 'id'={oid}")
                return ok(store[oid])

        def update(oid: int):
            data = json_body()
            if check and "condition" in data:
                check(data)
            with state.lock:
                if oid not in store:
                    raise ApiError(404, f"Couldn't find {label} with 'id'={oid}")
                store[oid].update({k: v for k, v in data.items() if k not in ("id", "created_at")})
                store[oid]["updated_at"] = ts(desk.now())
                return ok(store[oid])

        def destroy(oid: int):
            with state.lock:
                if oid not in store:
                    raise ApiError(404, f"Couldn't find {label} with 'id'={oid}")
                del store[oid]
                return ok({})

        base = f"/api/v1/{kind}s"
        app.add_url_rule(base, f"{kind}_index", index, methods=["GET"])
        app.add_url_rule(base, f"{kind}_create", create, methods=["POST"])
        app.add_url_rule(f"{base}/<int:oid>", f"{kind}_show", show, methods=["GET"])
        app.add_url_rule(f"{base}/<int:oid>", f"{kind}_update", update, methods=["PUT"])
        app.add_url_rule(f"{base}/<int:oid>", f"{kind}_destroy", destroy, methods=["DELETE"])

    def check_webhook(data):
        # app/models/webhook.rb validate_endpoint
        endpoint = str(data.get("endpoint", ""))
        if not re.match(r"^https?://", endpoint):
            raise ApiError(422, "endpoint: Invalid endpoint (no http/https)!")
        if not urlsplit(endpoint).hostname:
            raise ApiError(422, "endpoint: Invalid endpoint (no hostname)!")

    def check_trigger(data):
        check_condition(data.get("condition"))
        perform = data.get("perform")
        if not isinstance(perform, Mapping) or not perform:
            raise ApiError(422, "perform: required object")

    crud("webhook", state.webhooks, ("name", "endpoint"), check_webhook)
    crud("trigger", state.triggers, ("name", "condition", "perform"), check_trigger)
    return app
