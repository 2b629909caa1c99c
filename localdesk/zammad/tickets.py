"""The local Zammad's reference data (users, organizations, groups, states, priorities) and ticket
views: tickets, articles, tags, history."""
from __future__ import annotations

import copy
from datetime import datetime, timezone

from flask import Flask, request

from tiergate.localdesk.zammad.account import PRIORITIES, STATES, ApiError, ts
from tiergate.localdesk.zammad.api import json_body, me, ok
from tiergate.localdesk.zammad.desk import Desk


def register(app: Flask, desk: Desk) -> None:
    """Reference data, tickets, articles, tags and history views."""
    state = desk.state

    # -- reference data ------------------------------------------------------------------------
    @app.get("/api/v1/users/me")
    def users_me():
        return ok(state.users[me()])

    @app.get("/api/v1/users/<int:uid>")
    def user_show(uid: int):
        with state.lock:
            if uid not in state.users:
                raise ApiError(404, f"Couldn't find User with 'id'={uid}")
            return ok(state.users[uid])

    @app.get("/api/v1/organizations/<int:oid>")
    def org_show(oid: int):
        with state.lock:
            if oid not in state.organizations:
                raise ApiError(404, f"Couldn't find Organization with 'id'={oid}")
            return ok(state.organizations[oid])

    @app.get("/api/v1/groups")
    def groups():
        return ok(list(state.groups.values()))

    @app.post("/api/v1/groups")
    def group_create():
        data = json_body()
        name = str(data.get("name") or "").strip()
        with state.lock:
            if not name or any(g["name"].lower() == name.lower() for g in state.groups.values()):
                raise ApiError(422, f"name: {name!r} is blank or already taken")
            gid = max(state.groups, default=0) + 1
            at = ts(datetime.now(timezone.utc))
            state.groups[gid] = {"id": gid, "name": name, "active": bool(data.get("active", True)),
                                 "note": data.get("note"), "created_at": at, "updated_at": at}
            return ok(state.groups[gid], 201)

    @app.get("/api/v1/ticket_states")
    def ticket_states():
        return ok([{"id": i, "name": n, "active": True} for i, n in STATES.items()])

    @app.get("/api/v1/ticket_priorities")
    def ticket_priorities():
        return ok([{"id": i, "name": n, "active": True} for i, n in PRIORITIES.items()])

    # -- tickets -------------------------------------------------------------------------------
    @app.get("/api/v1/tickets")
    def tickets_index():
        page = max(1, request.args.get("page", 1, type=int))
        per_page = min(100, max(1, request.args.get("per_page", 50, type=int)))
        expand = request.args.get("expand") == "true"
        with state.lock:
            rows = [state.tickets[i] for i in sorted(state.tickets)]
            rows = rows[(page - 1) * per_page: page * per_page]
            return ok([desk.expand(t) if expand else t for t in rows])

    @app.post("/api/v1/tickets")
    def tickets_create():
        data = json_body()
        with state.lock:
            return ok(desk.expand(desk.create_ticket(data, me())), 201)

    @app.get("/api/v1/tickets/<int:tid>")
    def tickets_show(tid: int):
        with state.lock:
            t = desk.ticket(tid)
            return ok(desk.expand(t) if request.args.get("expand") == "true" else t)

    @app.put("/api/v1/tickets/<int:tid>")
    def tickets_update(tid: int):
        data = json_body()
        with state.lock:
            return ok(desk.expand(desk.update_ticket(tid, data, me())))

    @app.delete("/api/v1/tickets/<int:tid>")
    def tickets_delete(tid: int):
        with state.lock:
            desk.ticket(tid)
            del state.tickets[tid]
            state.tags.pop(tid, None)
            for aid in [a["id"] for a in desk.articles_of(tid)]:
                del state.articles[aid]
            return ok({})

    @app.get("/api/v1/ticket_articles/by_ticket/<int:tid>")
    def articles_by_ticket(tid: int):
        with state.lock:
            desk.ticket(tid)
            return ok(desk.articles_of(tid))

    @app.get("/api/v1/ticket_articles/<int:aid>")
    def article_show(aid: int):
        with state.lock:
            if aid not in state.articles:
                raise ApiError(404, f"Couldn't find Ticket::Article with 'id'={aid}")
            return ok(state.articles[aid])

    @app.post("/api/v1/ticket_articles")
    def article_create():
        data = json_body()
        with state.lock:
            return ok(desk.add_article(data, me()), 201)

    @app.get("/api/v1/tags")
    def tags_list():
        if request.args.get("object") != "Ticket":
            raise ApiError(422, "object: only Ticket is supported here")
        tid = request.args.get("o_id", type=int)
        if tid is None:
            raise ApiError(422, "o_id: required integer")
        with state.lock:
            desk.ticket(tid)
            return ok({"tags": list(state.tags.get(tid, []))})

    @app.post("/api/v1/tags/add")
    def tags_add():
        data = json_body()
        with state.lock:
            desk.tag("add", data, me())
        return ok(True)

    @app.delete("/api/v1/tags/remove")
    def tags_remove():
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            data = dict(request.args)
        with state.lock:
            desk.tag("remove", data, me())
        return ok(True)

    @app.get("/api/v1/ticket_history/<int:tid>")
    def ticket_history(tid: int):
        with state.lock:
            desk.ticket(tid)
            # Ticket#history_get(true): the ticket's own entries and its articles' (related_o_id)
            rows = [h for h in state.history if (h["object"] == "Ticket" and h["o_id"] == tid)
                    or (h.get("related_object") == "Ticket" and h.get("related_o_id") == tid)]
            rows.sort(key=lambda h: (h["created_at"], h["id"]))
            return ok({"history": copy.deepcopy(rows),
                       "assets": {"Ticket": {str(tid): copy.deepcopy(state.tickets[tid])}}})
