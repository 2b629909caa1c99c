"""Admin collections of the local Zendesk, one generic CRUD for each: webhooks (list, show,
update, delete), triggers, ticket fields, SLA policies and business-hours schedules with their
holidays."""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, jsonify, request

from tiergate.localdesk.zendesk.api import API, json_body, paginate
from tiergate.localdesk.zendesk.errors import ApiError, not_found
from tiergate.localdesk.zendesk.records import iso, utcnow

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
                    obj.setdefault("active", True)
                    obj.setdefault("position", len(_collection(coll)) + 1)
                    obj.setdefault("raw_title", data["title"])
                if coll == "ticket_fields":
                    obj.setdefault("active", True)
                    obj.setdefault("type", "text")
                _collection(coll)[oid] = obj
                return jsonify({one: copy.deepcopy(obj)}), 201

        def show(oid: str, coll=coll, one=one):
            with state.lock:
                obj = _collection(coll).get(_key(coll, oid))
                if obj is None:
                    raise not_found(one)
                return jsonify({one: copy.deepcopy(obj)})

        def update(oid: str, coll=coll, one=one):
            data = json_body().get(one)
            if not isinstance(data, dict):
                raise ApiError(400, "InvalidInput", f"{one}: object required")
            with state.lock:
                obj = _collection(coll).get(_key(coll, oid))
                if obj is None:
                    raise not_found(one)
                obj.update({k: v for k, v in data.items() if k not in ("id", "signing_secret")})
                obj["updated_at"] = iso(utcnow())
                if coll == "webhooks":      # Zendesk answers webhook updates with 204 No Content
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
