"""The local Zammad's object attributes (``/api/v1/object_manager_attributes``): custom ticket
attributes an admin adds. As in Zammad, a new attribute is usable only after
``POST /api/v1/object_manager_attributes_execute_migrations``; until then, and for any key that is
neither a ticket column nor such an attribute, ticket writes drop the key without an error."""
from __future__ import annotations

import re

from flask import Flask

from tiergate.localdesk.zammad.account import TICKET_COLUMNS, ApiError, ts
from tiergate.localdesk.zammad.api import json_body, ok
from tiergate.localdesk.zammad.desk import Desk

DATA_TYPES = ("input", "textarea", "select", "multiselect", "tree_select", "multi_tree_select", "boolean",
              "integer", "date", "datetime", "autocompletion_ajax", "autocompletion_ajax_external_data_source")


def register(app: Flask, desk: Desk) -> None:
    """List, show and create attributes; run the pending migrations."""
    state = desk.state

    @app.get("/api/v1/object_manager_attributes")
    def object_attributes_index():
        with state.lock:
            return ok([state.object_attributes[i] for i in sorted(state.object_attributes)])

    @app.get("/api/v1/object_manager_attributes/<int:aid>")
    def object_attribute_show(aid: int):
        with state.lock:
            if aid not in state.object_attributes:
                raise ApiError(404, f"Couldn't find ObjectManager::Attribute with 'id'={aid}")
            return ok(state.object_attributes[aid])

    @app.post("/api/v1/object_manager_attributes")
    def object_attribute_create():
        data = json_body()
        if data.get("object") != "Ticket":
            raise ApiError(422, "object: only Ticket attributes are supported here")
        name = data.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise ApiError(422, "name: lowercase letters, digits and _ only, starting with a letter")
        if name in TICKET_COLUMNS or name.endswith("_id") or name.endswith("_ids"):
            raise ApiError(422, f"name: {name!r} is reserved")
        if data.get("data_type") not in DATA_TYPES:
            raise ApiError(422, f"data_type: one of {', '.join(DATA_TYPES)}")
        with state.lock:
            if any(a["object"] == "Ticket" and a["name"] == name for a in state.object_attributes.values()):
                raise ApiError(422, "already exists")
            # ObjectManagerAttributesController#create: position 1550, editable
            return ok(desk.add_object_attribute({**data, "position": 1550}, ts(desk.now())), 201)

    @app.post("/api/v1/object_manager_attributes_execute_migrations")
    def object_attributes_migrate():
        with state.lock:
            for attr in state.object_attributes.values():
                attr["to_create"] = False
            return ok({})
