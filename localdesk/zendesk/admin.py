"""Admin collections of the local Zendesk, one generic CRUD for each: webhooks (list with the
webhooks API's cursor pagination and filters, show, update, delete; answered without their
credentials), triggers (legacy top-level ``all``/``any`` folded into ``conditions``), ticket
fields, SLA policies and business-hours schedules with their holidays."""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, jsonify, request

from tiergate.localdesk.zendesk.account import BOT_ID
from tiergate.localdesk.zendesk.api import API, json_body, paginate, webhook_page
from tiergate.localdesk.zendesk.errors import ApiError, not_found
from tiergate.localdesk.zendesk.records import iso, utcnow
from tiergate.localdesk.zendesk.triggers import trigger_conditions
from tiergate.localdesk.zendesk.webhooks import hook_view

TICKET_FIELD_DEFAULTS = {"description": "", "position": 9999, "active": True, "required": False,
                         "collapsed_for_agents": False, "regexp_for_validation": None, "visible_in_portal": False,
                         "editable_in_portal": False, "required_in_portal": False, "tag": None, "removable": True,
                         "key": None, "agent_description": None}

if TYPE_CHECKING:
    from tiergate.localdesk.zendesk.store import State


def register(app: Flask, state: State) -> None:
    """Generic collection views and schedule holidays."""
    api = API

    singular = {"webhooks": "webhook", "triggers": "trigger", "ticket_fields": "ticket_field",
                "slas/policies": "sla_policy", "business_hours/schedules": "schedule"}

    def _collection(name: str) -> dict[Any, dict]:
        return state.collections[name]

    def _key(name: str, raw: str) -> Any:
        if name == "webhooks":
            return raw
        try:
            return int(raw)
        except ValueError:
            raise not_found(singular[name]) from None

    for coll in singular:
        one = singular[coll]

        def list_(coll=coll):
            with state.lock:
                items = sorted(_collection(coll).values(), key=lambda o: (o.get("position") or 0, str(o["id"])))
                if coll == "webhooks":
                    return jsonify(webhook_page([hook_view(h) for h in _filtered(items)], "webhooks"))
                return jsonify(paginate(items, coll.rsplit("/", 1)[-1] if coll != "slas/policies"
                                     else "sla_policies"))

        def create(coll=coll, one=one):
            data = json_body().get(one)
            if not isinstance(data, dict):
                raise ApiError(400, "InvalidInput", f"{one}: object required")
            with state.lock:
                oid = state._oid()
                now = iso(utcnow())
                obj = {"id": oid, "url": state._url(f"{coll}/{oid}"), **{k: v for k, v in data.items() if k != "id"},
                       "created_at": now, "updated_at": now}
                if coll == "triggers":
                    if not data.get("title") or not isinstance(data.get("actions"), list):
                        raise ApiError(422, "RecordInvalid", "trigger.title and trigger.actions are required")
                    obj.pop("all", None)
                    obj.pop("any", None)
                    obj["conditions"] = trigger_conditions(data)
                    for key, value in (("active", True), ("position", len(_collection(coll)) + 1),
                                       ("raw_title", data["title"]), ("default", False), ("description", None),
                                       ("category_id", None)):
                        obj.setdefault(key, value)
                if coll == "ticket_fields":
                    obj.setdefault("type", "text")
                    for key, value in TICKET_FIELD_DEFAULTS.items():
                        obj.setdefault(key, value)
                    for key in ("title", "description"):
                        obj.setdefault(f"raw_{key}", obj.get(key))
                    obj.setdefault("title_in_portal", obj.get("title"))
                    obj.setdefault("raw_title_in_portal", obj.get("title"))
                _collection(coll)[oid] = obj
                return jsonify({one: copy.deepcopy(obj)}), 201

        def show(oid: str, coll=coll, one=one):
            with state.lock:
                obj = _collection(coll).get(_key(coll, oid))
                if obj is None:
                    raise not_found(one)
                return jsonify({one: hook_view(obj) if coll == "webhooks" else copy.deepcopy(obj)})

        def update(oid: str, coll=coll, one=one):
            data = json_body().get(one)
            if not isinstance(data, dict):
                raise ApiError(400, "InvalidInput", f"{one}: object required")
            with state.lock:
                obj = _collection(coll).get(_key(coll, oid))
                if obj is None:
                    raise not_found(one)
                if coll == "triggers" and any(k in data for k in ("conditions", "all", "any")):
                    data = {**data, "conditions": trigger_conditions({**data, "conditions": data.get("conditions")})}
                    data.pop("all", None)
                    data.pop("any", None)
                obj.update({k: v for k, v in data.items() if k not in ("id", "signing_secret")})
                obj["updated_at"] = iso(utcnow())
                if coll == "webhooks":      # Zendesk answers webhook updates with 204 No Content
                    obj["updated_by"] = str(BOT_ID)
                    return Response(status=204)
                return jsonify({one: copy.deepcopy(obj)})

        def delete(oid: str, coll=coll, one=one):
            with state.lock:
                if _collection(coll).pop(_key(coll, oid), None) is None:
                    raise not_found(one)
            return Response(status=204)

        base = f"{api}/{coll}"
        if coll != "webhooks":
            app.add_url_rule(base, f"{coll}_create", create, methods=["POST"])
        app.add_url_rule(base, f"{coll}_list", list_, methods=["GET"])
        app.add_url_rule(f"{base}/<oid>", f"{coll}_show", show, methods=["GET"])
        app.add_url_rule(f"{base}/<oid>", f"{coll}_update", update, methods=["PUT", "PATCH"])
        app.add_url_rule(f"{base}/<oid>", f"{coll}_delete", delete, methods=["DELETE"])

    def _filtered(hooks: list[dict]) -> list[dict]:
        """``filter[name_contains]`` and ``filter[status]`` of the webhooks list."""
        name = (request.args.get("filter[name_contains]") or "").lower()
        status = request.args.get("filter[status]")
        return [h for h in hooks if name in str(h.get("name", "")).lower() and (not status or h.get("status") == status)]

    @app.route(f"{api}/business_hours/schedules/<int:sid>/holidays", methods=["GET", "POST"])
    def schedule_holidays(sid: int):
        with state.lock:
            schedule = state.collections["business_hours/schedules"].get(sid)
            if schedule is None:
                raise not_found("schedule")
            holidays = schedule.setdefault("holidays", [])
            if request.method == "GET":
                return jsonify({"holidays": copy.deepcopy(holidays)})
            data = json_body().get("holiday")
            if not isinstance(data, dict) or not data.get("start_date"):
                raise ApiError(422, "RecordInvalid", "holiday.name, holiday.start_date, holiday.end_date required")
            holiday = {"id": state._oid(), "name": data.get("name", ""), "start_date": data["start_date"],
                       "end_date": data.get("end_date", data["start_date"])}
            holidays.append(holiday)
            return jsonify({"holiday": copy.deepcopy(holiday)}), 201
