"""A ticket's comments and audits in the local Zendesk, and the writes beside them (the tags
endpoints, satisfaction ratings), with their views."""
from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from flask import Flask, jsonify, request

from tiergate.localdesk.zendesk.api import API, json_body, paginate
from tiergate.localdesk.zendesk.errors import ApiError, not_found
from tiergate.localdesk.zendesk.records import insort_by_time, iso, utcnow



class ThreadStore:
    """``State`` methods for comments, audits, tags and ratings."""

    def _add_comment(self, tid: int, body: str, *, public: bool, author_id: int | None, at: datetime,
                     channel: str, attachments: Any = None) -> dict:
        cid = self._oid()
        files = []
        for a in attachments or []:
            name = a if isinstance(a, str) else a.get("file_name", "file")
            files.append({"id": self._oid(), "file_name": name, "content_url": f"{self.base_url}/attachments/{name}",
                          "content_type": "application/octet-stream", "size": 0, "inline": False})
        comment = {"id": cid, "type": "Comment", "author_id": author_id, "body": body, "html_body": f"<p>{body}</p>",
                   "plain_body": body, "public": bool(public), "attachments": files, "audit_id": None,
                   "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
                   "created_at": iso(at), "metadata": {"system": {}, "custom": {}}}
        insort_by_time(self.comments[tid], comment)
        if not public:
            self.tickets[tid]["is_public"] = self.tickets[tid]["is_public"] and len(self.comments[tid]) > 1
        return comment

    def _audit(self, tid: int, at: datetime, author_id: int | None, channel: str, events: list[dict]) -> dict:
        for event in events:        # like real audits, ids in Create/Change values are strings
            if event.get("field_name", "").endswith("_id"):
                for key in ("value", "previous_value"):
                    if event.get(key) is not None:
                        event[key] = str(event[key])
        audit = {"id": self._oid(), "ticket_id": tid, "created_at": iso(at), "author_id": author_id,
                 "metadata": {"system": {}, "custom": {}},
                 "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}}, "events": events}
        for event in events:
            if event.get("type") == "Comment":
                event["audit_id"] = audit["id"]
                for c in reversed(self.comments[tid]):
                    if c["id"] == event["id"]:
                        c["audit_id"] = audit["id"]
                        break
        insort_by_time(self.audits[tid], audit)
        return copy.deepcopy(audit)

    def set_tags(self, ticket_id: int, mode: str, tags: list[str], safe: dict) -> list[str]:
        """``/tickets/{id}/tags``: mode ``add`` (PUT), ``set`` (POST), ``remove`` (DELETE)."""
        key = {"add": "additional_tags", "set": "tags", "remove": "remove_tags"}[mode]
        ticket, _ = self.update_ticket(ticket_id, {key: list(tags), **safe}, check_conflict=False)
        return ticket["tags"]

    def rate(self, ticket_id: int, score: str, comment: str = "", author_id: int | None = None) -> dict:
        with self.lock:
            ticket = self.ticket(ticket_id)
            rid = self._oid()
            now = iso(utcnow())
            rating = {"id": rid, "url": self._url(f"satisfaction_ratings/{rid}"), "assignee_id": ticket["assignee_id"],
                      "group_id": ticket["group_id"], "requester_id": ticket["requester_id"], "ticket_id": ticket_id,
                      "score": score, "comment": comment, "reason": None, "created_at": now, "updated_at": now}
            self.satisfaction_ratings[rid] = rating
            self.update_ticket(ticket_id, {"satisfaction_rating": {"id": rid, "score": score, "comment": comment}},
                               author_id=author_id or ticket["requester_id"], via="web", check_conflict=False)
            return copy.deepcopy(rating)


def comment_event(comment: dict) -> dict:
    return {"id": comment["id"], "type": "Comment", "author_id": comment["author_id"], "body": comment["body"],
            "html_body": comment["html_body"], "plain_body": comment["plain_body"], "public": comment["public"],
            "attachments": comment["attachments"], "audit_id": None}


def register(app: Flask, state: Any) -> None:
    """Tags, comments, audits and satisfaction views."""
    api = API

    @app.route(f"{api}/tickets/<int:ticket_id>/tags", methods=["GET", "PUT", "POST", "DELETE"])
    def tickets_tags(ticket_id: int):
        if request.method == "GET":
            return jsonify({"tags": state.ticket(ticket_id)["tags"]})
        body = json_body()
        tags = body.get("tags")
        if not isinstance(tags, list):
            raise ApiError(400, "InvalidInput", "tags: list required")
        safe = {k: body[k] for k in ("safe_update", "updated_stamp") if k in body}
        mode = {"PUT": "add", "POST": "set", "DELETE": "remove"}[request.method]
        return jsonify({"tags": state.set_tags(ticket_id, mode, tags, safe)})

    @app.get(f"{api}/tickets/<int:ticket_id>/comments")
    def tickets_comments(ticket_id: int):
        with state.lock:
            state.ticket(ticket_id)
            comments = state.comments[ticket_id]
            if request.args.get("sort_order") == "desc":
                comments = comments[::-1]
            return jsonify(paginate(comments, "comments"))

    @app.get(f"{api}/tickets/<int:ticket_id>/audits")
    def tickets_audits(ticket_id: int):
        with state.lock:
            state.ticket(ticket_id)
            return jsonify(paginate(state.audits[ticket_id], "audits"))

    @app.post(f"{api}/tickets/<int:ticket_id>/satisfaction_rating")
    def tickets_rate(ticket_id: int):
        data = json_body().get("satisfaction_rating") or {}
        if data.get("score") not in ("good", "bad", "offered", "unoffered"):
            raise ApiError(422, "RecordInvalid", "satisfaction_rating.score: good, bad, offered or unoffered")
        return jsonify({"satisfaction_rating": state.rate(ticket_id, data["score"], data.get("comment", ""))})

    @app.get(f"{api}/satisfaction_ratings")
    def satisfaction_list():
        with state.lock:
            return jsonify(paginate(list(state.satisfaction_ratings.values()), "satisfaction_ratings"))

    @app.get(f"{api}/satisfaction_ratings/<int:rid>")
    def satisfaction_show(rid: int):
        with state.lock:
            if rid not in state.satisfaction_ratings:
                raise not_found("satisfaction_rating")
            return jsonify({"satisfaction_rating": copy.deepcopy(state.satisfaction_ratings[rid])})
