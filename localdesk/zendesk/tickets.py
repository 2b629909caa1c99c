"""Tickets of the local Zendesk: create, update (safe_update, audits, triggers), import, delete,
and their views. ``generated_timestamp`` is kept on the stored ticket for the incremental export
and, like Zendesk, answered only there; a follow-up (``via_followup_source_id`` on create) is
answered as ``via.source.rel == "follow_up"`` with the source ticket in ``via.source.from``."""
from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from flask import Flask, Response, jsonify

from tiergate.localdesk.zendesk.account import AUDITED, BOT_ID, ENUMS, TICKET_FIELDS
from tiergate.localdesk.zendesk.api import API, ids_arg, json_body, paginate
from tiergate.localdesk.zendesk.comments import comment_event
from tiergate.localdesk.zendesk.errors import ApiError, conflict, not_found
from tiergate.localdesk.zendesk.records import iso, unique, utcnow, whole_seconds
from tiergate.plugin.core.model import parse_time



class TicketStore:
    """``State`` methods for tickets."""

    def ticket(self, ticket_id: int) -> dict:
        with self.lock:
            if ticket_id not in self.tickets:
                raise not_found("ticket")
            return public(self.tickets[ticket_id])

    def _blank_ticket(self, tid: int, at: datetime, channel: str) -> dict:
        return {
            "id": tid, "url": self._url(f"tickets/{tid}"), "external_id": None,
            "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": iso(at), "updated_at": iso(at), "generated_timestamp": int(at.timestamp()),
            "type": None, "subject": "", "raw_subject": "", "description": "", "priority": None,
            "status": "new", "recipient": None, "requester_id": None, "submitter_id": None,
            "assignee_id": None, "organization_id": None, "group_id": None, "collaborator_ids": [],
            "follower_ids": [], "email_cc_ids": [], "forum_topic_id": None, "problem_id": None,
            "has_incidents": False, "is_public": True, "due_at": None, "tags": [], "custom_fields": [],
            "satisfaction_rating": None, "sharing_agreement_ids": [], "custom_status_id": None,
            "fields": [], "followup_ids": [], "ticket_form_id": None, "brand_id": None,
            "allow_channelback": False, "allow_attachments": True, "from_messaging_channel": False,
        }

    def _resolve_requester(self, data: dict) -> None:
        requester = data.pop("requester", None)
        if isinstance(requester, dict) and not data.get("requester_id"):
            email = requester.get("email")
            user = self.find_user(email) if email else None
            if user is None:
                user = self.add_user(requester.get("name") or email or "Customer", email,
                                     organization_id=requester.get("organization_id"))
            data["requester_id"] = user["id"]
        if data.get("requester_id") and not data.get("organization_id"):
            user = self.users.get(data["requester_id"])
            if user and user.get("organization_id"):
                data["organization_id"] = user["organization_id"]

    def _check_fields(self, data: dict) -> None:
        """422 like Zendesk for values it would refuse (enums, unknown group, end-user assignee)."""
        for key, allowed in ENUMS.items():
            if key in data and data[key] is not None and data[key] not in allowed:
                raise ApiError(422, "RecordInvalid", f"{key}: {data[key]!r} is not one of {list(allowed)}")
        for key in ("group_id", "assignee_id"):
            if data.get(key) is not None and (not isinstance(data[key], int) or isinstance(data[key], bool)):
                raise ApiError(422, "RecordInvalid", f"{key}: must be an integer")
        if data.get("group_id") is not None and data["group_id"] not in self.groups:
            raise ApiError(422, "RecordInvalid", f"group_id: group {data['group_id']} does not exist")
        if data.get("assignee_id") is not None and self.role_of(data["assignee_id"]) == "end-user":
            raise ApiError(422, "RecordInvalid", f"assignee_id: {data['assignee_id']} is not an agent")

    def create_ticket(self, data: dict, *, author_id: int = BOT_ID, via: str = "api",
                      at: datetime | None = None, run_triggers: bool = True) -> tuple[dict, dict]:
        """``POST /api/v2/tickets``: the first comment is the description (author: submitter)."""
        with self.lock:
            data = dict(data)
            self._check_fields(data)
            self._resolve_requester(data)
            comment = data.pop("comment", None) or {}
            body = comment.get("body") or comment.get("html_body") or data.pop("description", "") or ""
            if not body:
                raise ApiError(422, "RecordInvalid", "Record validation errors",
                               {"description": [{"description": "Description: cannot be blank"}]})
            channel = (data.pop("via", None) or {}).get("channel", via)
            followup_of = data.pop("via_followup_source_id", None)
            at = self.next_stamp(at)
            tid = next(self._ticket_ids)
            ticket = self._blank_ticket(tid, at, channel)
            self._follow_up(ticket, followup_of)
            submitter = data.pop("submitter_id", None) or comment.get("author_id") or data.get("requester_id") \
                or author_id
            tags = data.pop("tags", None) or []
            for key in TICKET_FIELDS:
                if key in data:
                    ticket[key] = data[key]
            ticket["custom_fields"] = self._custom_fields([], data.get("custom_fields"))
            ticket.update(subject=data.get("subject") or body[:60], raw_subject=data.get("subject") or body[:60],
                          description=body, submitter_id=submitter, tags=unique(tags),
                          status=data.get("status") or "new")
            if ticket["requester_id"] is None:
                ticket["requester_id"] = submitter
            self.tickets[tid] = ticket
            self.comments[tid] = []
            self.audits[tid] = []
            new_comment = self._add_comment(tid, body, public=comment.get("public", True), author_id=submitter,
                                            at=at, channel=channel, attachments=comment.get("attachments"))
            events = [{"id": self._oid(), "type": "Create", "field_name": f, "value": ticket[f]}
                      for f in AUDITED + ("tags",) if ticket.get(f) not in (None, [], "")]
            audit = self._audit(tid, at, submitter, channel, [comment_event(new_comment)] + events)
            if run_triggers:
                self._fire(None, ticket, new_comment, "Create", channel, submitter)
            return public(ticket), audit

    def update_ticket(self, ticket_id: int, data: dict, *, author_id: int = BOT_ID, via: str = "api",
                      at: datetime | None = None, check_conflict: bool = True) -> tuple[dict, dict]:
        """``PUT /api/v2/tickets/{id}``: fields, tags, one comment, safe_update; audited."""
        with self.lock:
            if ticket_id not in self.tickets:
                raise not_found("ticket")
            ticket = self.tickets[ticket_id]
            data = dict(data)
            if check_conflict and self.knobs.get("conflict_next", 0) > 0:
                self.knobs["conflict_next"] -= 1
                ticket["updated_at"] = iso(self.next_stamp(after=ticket["updated_at"]))   # someone else edited it
                raise conflict()
            if data.pop("safe_update", False):
                stamp = data.get("updated_stamp")
                try:
                    stamp_at = parse_time(stamp)
                except ValueError:
                    raise ApiError(422, "RecordInvalid", f"updated_stamp: not a timestamp: {stamp!r}") from None
                if stamp_at is None:
                    raise ApiError(422, "RecordInvalid", "updated_stamp: required with safe_update")
                if whole_seconds(stamp_at) != parse_time(ticket["updated_at"]):
                    raise conflict()
            data.pop("updated_stamp", None)
            data.pop("id", None)
            self._check_fields(data)
            self._resolve_requester(data)
            before = copy.deepcopy(ticket)
            comment = data.pop("comment", None)
            tags = list(ticket["tags"])
            if "tags" in data:
                tags = unique(data.pop("tags") or [])
            tags = unique(tags + list(data.pop("additional_tags", None) or []))
            remove = set(data.pop("remove_tags", None) or [])
            tags = [t for t in tags if t not in remove]
            for key in TICKET_FIELDS:
                if key in data and key != "custom_fields":
                    ticket[key] = data[key]
            if "custom_fields" in data:
                ticket["custom_fields"] = self._custom_fields(ticket["custom_fields"], data["custom_fields"])
            ticket["tags"] = tags
            at = self.next_stamp(at)                                   # the comment's and audit's time
            stamp = self.next_stamp(at, after=ticket["updated_at"])    # the ticket's: one per write
            events: list[dict] = []
            new_comment = None
            comment_author = author_id
            if comment:
                body = comment.get("body") or comment.get("html_body") or ""
                comment_author = comment.get("author_id") or author_id
                if body:
                    new_comment = self._add_comment(ticket_id, body, public=comment.get("public", True),
                                                    author_id=comment_author, at=at, channel=via,
                                                    attachments=comment.get("attachments"))
                    events.append(comment_event(new_comment))
            for f in AUDITED + ("tags",):
                if before.get(f) != ticket.get(f):
                    events.append({"id": self._oid(), "type": "Change", "field_name": f, "value": ticket[f],
                                   "previous_value": before.get(f)})
            for old, new in _custom_changes(before["custom_fields"], ticket["custom_fields"]):
                events.append({"id": self._oid(), "type": "Change", "field_name": str(new["id"]),
                               "value": new["value"], "previous_value": old})
            ticket["updated_at"] = iso(stamp)
            ticket["generated_timestamp"] = int(stamp.timestamp())
            audit = self._audit(ticket_id, at, comment_author, via, events)
            self._fire(before, ticket, new_comment, "Change", via, comment_author)
            return public(ticket), audit

    def delete_ticket(self, ticket_id: int) -> None:
        with self.lock:
            if self.tickets.pop(ticket_id, None) is None:
                raise not_found("ticket")
            self.comments.pop(ticket_id, None)
            self.audits.pop(ticket_id, None)

    def import_ticket(self, data: dict) -> dict:
        """``POST /api/v2/imports/tickets``: comments keep their ``created_at``; no triggers run."""
        with self.lock:
            data = dict(data)
            self._resolve_requester(data)
            comments = list(data.pop("comments", None) or [])
            if not comments and data.get("description"):
                comments = [{"author_id": data.get("requester_id"), "value": data["description"], "public": True}]
            if not comments:
                raise ApiError(422, "RecordInvalid", "comments: at least one comment is required")
            created = parse_time(data.pop("created_at", None)) or utcnow()
            channel = (data.pop("via", None) or {}).get("channel", "api")
            followup_of = data.pop("via_followup_source_id", None)
            tid = next(self._ticket_ids)
            ticket = self._blank_ticket(tid, created, channel)
            self._follow_up(ticket, followup_of)
            for key in TICKET_FIELDS:
                if key in data and key != "custom_fields":
                    ticket[key] = data[key]
            ticket["custom_fields"] = self._custom_fields([], data.get("custom_fields"))
            ticket["tags"] = unique(data.get("tags") or [])
            first = comments[0]
            ticket["description"] = first.get("value") or first.get("body") or first.get("html_body") or ""
            ticket["subject"] = ticket["raw_subject"] = data.get("subject") or ticket["description"][:60]
            ticket["submitter_id"] = first.get("author_id") or ticket["requester_id"]
            ticket["status"] = data.get("status") or "new"
            self.tickets[tid] = ticket
            self.comments[tid] = []
            self.audits[tid] = []
            creation = [{"id": self._oid(), "type": "Create", "field_name": f, "value": ticket[f]}
                        for f in AUDITED + ("tags",) if ticket.get(f) not in (None, [], "")]
            last = created
            for i, c in enumerate(comments):
                at = parse_time(c.get("created_at")) or created
                last = max(last, at)
                new = self._add_comment(tid, c.get("value") or c.get("body") or c.get("html_body") or "",
                                        public=c.get("public", True),
                                        author_id=c.get("author_id") or ticket["requester_id"], at=at,
                                        channel=c.get("channel") or channel, attachments=c.get("attachments"))
                self._audit(tid, at, new["author_id"], new["via"]["channel"],
                            [comment_event(new)] + (creation if i == 0 else []))
            updated = parse_time(data.get("updated_at")) or last
            ticket["updated_at"] = iso(updated)
            ticket["generated_timestamp"] = int(updated.timestamp())
            return public(ticket)

    def _follow_up(self, ticket: dict, source_id: Any) -> None:
        """Mark ``ticket`` a follow-up of ``source_id`` the way Zendesk answers it."""
        if source_id in (None, ""):
            return
        try:
            source = self.tickets.get(int(source_id))
        except (TypeError, ValueError):
            raise ApiError(422, "RecordInvalid", f"via_followup_source_id: not a ticket id: {source_id!r}") from None
        if source is None:
            raise ApiError(422, "RecordInvalid", f"via_followup_source_id: ticket {source_id} does not exist")
        ticket["via"]["source"] = {"from": {"ticket_id": source["id"], "subject": source["subject"]}, "to": {},
                                   "rel": "follow_up"}
        source["followup_ids"] = [*source.get("followup_ids", []), ticket["id"]]

    def _custom_fields(self, current: list[dict], given: Any) -> list[dict]:
        out = {f["id"]: f["value"] for f in current}
        for item in given or []:
            if isinstance(item, dict) and "id" in item:
                out[item["id"]] = item.get("value")
        return [{"id": k, "value": v} for k, v in out.items()]


PRIVATE_KEYS = ("generated_timestamp",)       # answered by the incremental export only


def public(ticket: dict) -> dict:
    """A copy of a stored ticket as the ticket endpoints answer it."""
    return {k: copy.deepcopy(v) for k, v in ticket.items() if k not in PRIVATE_KEYS}


def _custom_changes(before: list[dict], after: list[dict]) -> list[tuple[Any, dict]]:
    old = {f["id"]: f["value"] for f in before}
    return [(old.get(f["id"]), f) for f in after if old.get(f["id"]) != f["value"]]


def register(app: Flask, state: Any) -> None:
    """Ticket views: list, show_many, create, show, update, delete, import."""
    api = API

    @app.get(f"{api}/tickets")
    def tickets_list():
        with state.lock:
            return jsonify(paginate([public(t) for t in sorted(state.tickets.values(), key=lambda t: t["id"])],
                                    "tickets"))

    @app.get(f"{api}/tickets/show_many")
    def tickets_show_many():
        with state.lock:
            found = [public(state.tickets[i]) for i in ids_arg() if i in state.tickets]
            return jsonify({"tickets": found, "next_page": None, "previous_page": None, "count": len(found)})

    @app.post(f"{api}/tickets")
    def tickets_create():
        data = json_body().get("ticket")
        if not isinstance(data, dict):
            raise ApiError(400, "InvalidInput", "ticket: object required")
        ticket, audit = state.create_ticket(data)
        return jsonify({"ticket": ticket, "audit": audit}), 201

    @app.get(f"{api}/tickets/<int:ticket_id>")
    def tickets_show(ticket_id: int):
        return jsonify({"ticket": state.ticket(ticket_id)})

    @app.put(f"{api}/tickets/<int:ticket_id>")
    def tickets_update(ticket_id: int):
        data = json_body().get("ticket")
        if not isinstance(data, dict):
            raise ApiError(400, "InvalidInput", "ticket: object required")
        ticket, audit = state.update_ticket(ticket_id, data)
        return jsonify({"ticket": ticket, "audit": audit})

    @app.delete(f"{api}/tickets/<int:ticket_id>")
    def tickets_delete(ticket_id: int):
        state.delete_ticket(ticket_id)
        return Response(status=204)

    @app.post(f"{api}/imports/tickets")
    def imports_tickets():
        data = json_body().get("ticket")
        if not isinstance(data, dict):
            raise ApiError(400, "InvalidInput", "ticket: object required")
        return jsonify({"ticket": state.import_ticket(data)}), 201
