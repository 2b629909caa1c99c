"""Reading many tickets from the local Zendesk: the incremental export and just enough search."""
from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING

from flask import Flask, jsonify, request

from tiergate.localdesk.zendesk.account import STATUS_ORDER
from tiergate.localdesk.zendesk.api import API, paginate
from tiergate.localdesk.zendesk.errors import ApiError
from tiergate.localdesk.zendesk.tickets import public
from tiergate.plugin.core.model import parse_time

if TYPE_CHECKING:
    from tiergate.localdesk.zendesk.store import State


def search_tickets(state: State, query: str) -> list[dict]:
    """Just enough of Zendesk search: type:ticket, status:/status<, updated>/created>, tags:, group_id:."""
    tickets = list(state.tickets.values())
    for token in query.split():
        m = re.match(r"^(\w+)(:|<|>|<=|>=)(.+)$", token)
        if not m:
            tickets = [t for t in tickets if token.lower() in (t["subject"] + " " + t["description"]).lower()]
            continue
        key, op, value = m.groups()
        if key == "type":
            if value != "ticket":
                return []
        elif key == "status" and op == ":":
            tickets = [t for t in tickets if t["status"] == value]
        elif key == "status" and op in ("<", ">"):
            i = STATUS_ORDER.index(value)
            tickets = [t for t in tickets if (STATUS_ORDER.index(t["status"]) < i) == (op == "<")
                       and STATUS_ORDER.index(t["status"]) != i]
        elif key in ("updated", "created") and op in (">", "<", ">=", "<="):
            bound = parse_time(value if "T" in value else value + "T00:00:00Z")
            at = lambda t: parse_time(t[key + "_at"])            # noqa: E731
            tickets = [t for t in tickets if (at(t) > bound if ">" in op else at(t) < bound)]
        elif key in ("tags", "tag"):
            tickets = [t for t in tickets if value in t["tags"]]
        elif key in ("group_id", "group", "assignee_id", "assignee"):
            field = key if key.endswith("_id") else key + "_id"
            tickets = [t for t in tickets if str(t[field]) == value]
    return sorted(tickets, key=lambda t: parse_time(t["updated_at"]))


def register(app: Flask, state: State) -> None:
    """Incremental export and search views."""
    api = API

    @app.get(f"{api}/incremental/tickets")
    def incremental_tickets():
        try:
            start = int(request.args["start_time"])
        except (KeyError, ValueError):
            raise ApiError(400, "InvalidPaginationParameter", "start_time: unix seconds required") from None
        with state.lock:
            found = sorted((t for t in state.tickets.values() if t["generated_timestamp"] >= start),
                           key=lambda t: (t["generated_timestamp"], t["id"]))
            chunk = copy.deepcopy(found[:1000])
        end = chunk[-1]["generated_timestamp"] if chunk else start
        end_of_stream = len(found) <= 1000
        return jsonify({"tickets": chunk, "count": len(chunk), "end_time": end, "end_of_stream": end_of_stream,
                        "next_page": f"{request.base_url}?start_time={end}"})

    @app.get(f"{api}/search")
    def search():
        with state.lock:
            results = [{**public(t), "result_type": "ticket"} for t in search_tickets(state, request.args.get("query", ""))]
            page = paginate(results, "results")
        page.setdefault("count", len(results))
        return jsonify(page)
