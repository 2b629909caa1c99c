"""Zammad connector: the ``Connector`` Protocol over Zammad's REST API v1 with plain ``requests``.

Model mapping (Zammad → tiergate ``Ticket``): ``title`` → subject; first article → description;
``state`` new/open/pending close/pending reminder/closed/merged → new/open/pending/hold/solved/
closed; priority ``"3 high"`` → ``high`` (the leading rank is dropped); ``owner_id`` → assignee_id
(``1`` is Zammad's "nobody" → None); ``customer_id`` → requester_id; articles → comments (sender
Customer/Agent/System → end-user/agent/system, ``internal`` → not public, ``type`` → channel);
``/api/v1/tags`` → tags; ``/api/v1/ticket_history`` (``{"history": [...]}``, entries keyed ``type`` /
``object`` / ``attribute`` / ``value_from`` / ``value_to`` / ``id_from`` / ``id_to`` / ``created_at``) ticket
updates of group/state/priority/owner → changes (ids for group and owner, names for state and priority);
top-level object attributes Zammad does not define → ``custom_fields``.

Writes (``apply``): tags one by one via ``POST /api/v1/tags/add`` / ``DELETE /api/v1/tags/remove``
(deltas: never clobbers tags others set), the decision's notes as ONE ``POST
/api/v1/ticket_articles`` with ``internal: true, type: "note"`` (bodies joined, as the Zendesk
connector joins them into one comment), reassignment / priority / custom attributes in one
``PUT /api/v1/tickets/{id}``. Every request carries ``X-Zammad-Suppress-Notifications: true``.

Concurrency guard. Zammad has no conditional update (no safe_update, no If-Match), so ``apply``
re-reads the ticket and raises ``Conflict`` if its ``updated_at`` differs from
``expected_updated_at`` before writing anything. Residual race: a change made by someone else
between that read and our last request (milliseconds) is not detected. Its harm is bounded because
every write is a delta (tags added/removed one at a time, notes appended, the PUT carries only the
fields the decision sets), so the only possible loss is a human's simultaneous reassignment being
overridden by ours; tiergate's own workers never race each other on one ticket because
``jobs.locks.ticket_lock`` serializes jobs per ticket, and the group-change webhook that our own
write or the human's write causes makes the pipeline re-decide on the final state.

One decision is several requests here (Zammad has no combined tag + note + field write): order is
fields, then notes, then tags; a failure midway leaves earlier writes applied, and the retried job
re-fetches and re-decides (notes carry fingerprints and tag writes are idempotent).

Errors: timeouts / connection errors → ``Unavailable``; HTTP statuses are mapped by
``connectors/http_errors.status_to_error``: 5xx → ``Unavailable``; 429 → ``RateLimited``
(Retry-After, default 5 s); 404 → ``NotFound``; 409 (and a 422 that says the object changed) →
``Conflict``; other 4xx → ``ConnectorError`` with Zammad's message (retrying cannot fix a
validation error).
"""
from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any, Iterable, Iterator, Mapping, Sequence

import requests

from tiergate.connectors import zammad_webhook
from tiergate.connectors.base import Delivery
from tiergate.connectors.connection import DeskConnection
from tiergate.connectors.http_errors import status_to_error
from tiergate.plugin.core.errors import Conflict, ConnectorError, InvalidSignature, NotFound, Unavailable
from tiergate.plugin.core.manifest_ids import GROUP, SCHEDULE, USER
from tiergate.plugin.core.model import Change, Comment, Organization, Ticket, TicketUpdate, parse_time

NOBODY_ID = 1
SUPPRESS_HEADER = "X-Zammad-Suppress-Notifications"
STATE_TO_STATUS = {"new": "new", "open": "open", "pending close": "pending", "pending reminder": "hold",
                   "closed": "solved", "merged": "closed", "removed": "closed"}
SENDER_TO_ROLE = {"Customer": "end-user", "Agent": "agent", "System": "system"}
TYPE_TO_CHANNEL = {"email": "email", "phone": "voice", "web": "web", "chat": "chat", "note": "api",
                   "sms": "sms"}
PRIORITY_RANK = {"low": 1, "normal": 2, "high": 3, "urgent": 4}
HISTORY_FIELDS = {"group": "group_id", "state": "status", "priority": "priority", "owner": "assignee_id"}
STANDARD_KEYS = {
    "id", "number", "title", "group_id", "state_id", "priority_id", "owner_id", "customer_id",
    "organization_id", "note", "type", "pending_time", "create_article_type_id",
    "create_article_sender_id", "article_count", "article_ids", "first_response_at",
    "first_response_escalation_at", "first_response_in_min", "first_response_diff_in_min", "close_at",
    "close_escalation_at", "close_in_min", "close_diff_in_min", "update_escalation_at", "update_in_min",
    "update_diff_in_min", "last_contact_at", "last_contact_agent_at", "last_contact_customer_at",
    "last_owner_update_at", "last_close_at", "escalation_at", "time_unit", "preferences", "updated_by_id",
    "created_by_id", "created_at", "updated_at", "group", "state", "priority", "owner", "customer",
    "organization", "tags", "checklist_id", "referencing_checklist_ids", "external_id",
    "ticket_time_accounting_ids", "create_article_type", "create_article_sender", "created_by", "updated_by",
}


def _priority_label(name: str | None) -> str | None:
    """``"2 normal"`` → ``"normal"``."""
    if not name:
        return None
    return re.sub(r"^\d+\s+", "", name).strip().lower()


def _text(article: Mapping[str, Any]) -> str:
    body = article.get("body") or ""
    if (article.get("content_type") or "").lower() == "text/html":
        body = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", body)
        body = html.unescape(re.sub(r"<[^>]+>", "", body)).strip()
    return body


class ZammadConnector:
    """Talks to one Zammad instance with an API token (``Authorization: Token token=...``)."""

    name = "zammad"
    max_batch = 1   # Zammad has no bulk ticket update endpoint: apply_many loops

    def __init__(self, url: str, token: str, *, webhook_secret: str | None = None,
                 timeout: tuple[float, float] = (5.0, 30.0), session: requests.Session | None = None):
        self.url = url.rstrip("/")
        self.webhook_secret = webhook_secret
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers.update({
            "Authorization": f"Token token={token}", SUPPRESS_HEADER: "true",
            "Accept": "application/json", "User-Agent": "tiergate-zammad"})
        self._priorities: dict[int, str] | None = None
        self._states: dict[int, str] | None = None

    # -- inbound -------------------------------------------------------------------------------
    def verify_delivery(self, headers: Mapping[str, str], body: bytes, now: datetime) -> Delivery:
        if not self.webhook_secret:
            raise InvalidSignature("no webhook secret configured (TIERGATE_WEBHOOK_SECRET)")
        return zammad_webhook.verify(headers, body, self.webhook_secret, now)

    # -- HTTP ----------------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
              json: Any = None) -> Any:
        try:
            resp = self.session.request(method, self.url + path, params=params, json=json,
                                        timeout=self.timeout)
        except requests.Timeout as exc:
            raise Unavailable(f"zammad: {method} {path} timed out ({exc})") from None
        except requests.RequestException as exc:
            raise Unavailable(f"zammad: {method} {path} failed ({exc})") from None
        status = resp.status_code
        error = status_to_error(status, resp.headers, resp.content, what=f"zammad: {method} {path}",
                                default_retry_after=5.0)
        if error is not None:
            raise error
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            raise Unavailable(f"zammad: {method} {path} answered {status} with a non-JSON body") from None

    def _reference(self) -> tuple[dict[int, str], dict[int, str]]:
        if self._priorities is None or self._states is None:
            self._priorities = {p["id"]: p["name"] for p in self._call("GET", "/api/v1/ticket_priorities")}
            self._states = {s["id"]: s["name"] for s in self._call("GET", "/api/v1/ticket_states")}
        return self._priorities, self._states

    def priority_id(self, priority: str) -> int:
        """tiergate priority → Zammad priority id; if the desk lacks it (stock Zammad has no
        "urgent"), the highest priority ranked at or below it."""
        priorities, _ = self._reference()
        labels = {_priority_label(n): i for i, n in priorities.items()}
        if priority in labels:
            return labels[priority]
        wanted = PRIORITY_RANK.get(priority)
        if wanted is None:
            raise ConnectorError(f"priority: unknown {priority!r}")
        ranked = sorted((PRIORITY_RANK[l], i) for l, i in labels.items() if l in PRIORITY_RANK
                        and PRIORITY_RANK[l] <= wanted)
        if not ranked:
            raise ConnectorError(f"priority: the desk has no priority at or below {priority!r}")
        return ranked[-1][1]

    def known_ids(self, kind: str, ids: Iterable[int]) -> set[int] | None:
        """Which of ``ids`` exist on the desk as ``kind`` (``plugin.core.manifest_ids`` kinds);
        None for a kind this desk cannot list (ticket fields: Zammad names attributes, it
        numbers none; schedules: calendars, where the desk answers ``/api/v1/calendars``)."""
        wanted = {int(i) for i in ids}
        if kind == USER:
            found = set()
            for uid in sorted(wanted):
                try:
                    self._call("GET", f"/api/v1/users/{uid}")
                    found.add(uid)
                except NotFound:
                    continue
            return found
        path = {GROUP: "/api/v1/groups", SCHEDULE: "/api/v1/calendars"}.get(kind)
        if path is None:
            return None
        rows: list = []
        for page in range(1, 1000):
            try:
                batch = self._call("GET", path, params={"page": page, "per_page": 500}) or []
            except NotFound:
                return None
            rows += batch
            if len(batch) < 500:
                break
        return {int(r["id"]) for r in rows if isinstance(r, Mapping) and "id" in r} & wanted

    # -- reading -------------------------------------------------------------------------------
    def fetch_ticket(self, ticket_id: int) -> Ticket:
        raw = self._call("GET", f"/api/v1/tickets/{int(ticket_id)}")
        articles = self._call("GET", f"/api/v1/ticket_articles/by_ticket/{int(ticket_id)}") or []
        tags = (self._call("GET", "/api/v1/tags", params={"object": "Ticket", "o_id": int(ticket_id)})
                or {}).get("tags") or []
        history = (self._call("GET", f"/api/v1/ticket_history/{int(ticket_id)}") or {}).get("history") or []
        org = None
        if raw.get("organization_id"):
            try:
                org = self._organization(self._call("GET", f"/api/v1/organizations/{raw['organization_id']}"))
            except NotFound:
                org = None
        return self.to_ticket(raw, articles, tags, history, org)

    @staticmethod
    def _organization(data: Mapping[str, Any]) -> Organization:
        known = {"id", "name", "segment", "account_value", "renewal_at", "created_at", "updated_at",
                 "shared", "domain", "domain_assignment", "active", "note", "vip", "member_ids",
                 "created_by_id", "updated_by_id", "secondary_member_ids"}
        segment = data.get("segment") or ("vip" if data.get("vip") else None)
        value = data.get("account_value")
        return Organization(
            id=int(data["id"]), name=str(data.get("name") or ""), segment=segment,
            account_value=float(value) if value not in (None, "") else None,
            renewal_at=parse_time(data.get("renewal_at")),
            fields={k: v for k, v in data.items() if k not in known})

    def to_ticket(self, raw: Mapping[str, Any], articles: Sequence[Mapping[str, Any]],
                  tags: Sequence[str], history: Sequence[Mapping[str, Any]],
                  organization: Organization | None) -> Ticket:
        priorities, states = self._reference()
        articles = sorted(articles, key=lambda a: (a.get("created_at") or "", a.get("id") or 0))
        comments = tuple(Comment(
            id=int(a["id"]), author_id=a.get("origin_by_id") or a.get("created_by_id"),
            author_role=SENDER_TO_ROLE.get(a.get("sender") or "", "system"), body=_text(a),
            public=not bool(a.get("internal")), created_at=parse_time(a.get("created_at")),
            channel=TYPE_TO_CHANNEL.get(a.get("type") or "", a.get("type") or "web"),
            attachments=tuple(str(x.get("filename", "")) for x in a.get("attachments") or []),
        ) for a in articles)
        first_type = articles[0].get("type") if articles else None
        owner = raw.get("owner_id")
        state_name = raw.get("state") or states.get(raw.get("state_id"))
        priority_name = raw.get("priority") if isinstance(raw.get("priority"), str) else \
            priorities.get(raw.get("priority_id"))
        return Ticket(
            id=int(raw["id"]), subject=str(raw.get("title") or ""),
            description=comments[0].body if comments else "",
            status=STATE_TO_STATUS.get(state_name or "", state_name or "open"),
            priority=_priority_label(priority_name),
            type=(str(raw["type"]).lower() if raw.get("type") else None),
            group_id=raw.get("group_id"), assignee_id=None if owner in (None, NOBODY_ID) else owner,
            requester_id=raw.get("customer_id"), organization_id=raw.get("organization_id"),
            tags=tuple(tags), channel=TYPE_TO_CHANNEL.get(first_type or "", first_type or "web"),
            created_at=parse_time(raw.get("created_at")), updated_at=parse_time(raw.get("updated_at")),
            custom_fields={k: v for k, v in raw.items() if k not in STANDARD_KEYS},
            comments=comments, organization=organization,
            changes=tuple(self._changes(history, priorities)))

    @staticmethod
    def _changes(history: Sequence[Mapping[str, Any]], priorities: Mapping[int, str]) -> list[Change]:
        out = []
        for h in history:
            # Zammad's History.list renames history_type/_object/_attribute to type/object/attribute
            if h.get("object") != "Ticket" or h.get("type") != "updated":
                continue
            name = HISTORY_FIELDS.get(h.get("attribute") or "")
            if name is None:
                continue
            if name in ("group_id", "assignee_id"):
                old, new = h.get("id_from"), h.get("id_to")
                if name == "assignee_id":
                    old = None if old in (None, NOBODY_ID) else old
                    new = None if new in (None, NOBODY_ID) else new
            elif name == "status":
                old = STATE_TO_STATUS.get(h.get("value_from") or "", h.get("value_from"))
                new = STATE_TO_STATUS.get(h.get("value_to") or "", h.get("value_to"))
            else:
                old = _priority_label(h.get("value_from") or priorities.get(h.get("id_from")))
                new = _priority_label(h.get("value_to") or priorities.get(h.get("id_to")))
            out.append(Change(at=parse_time(h.get("created_at")), field=name, old=old, new=new,
                              author_id=h.get("created_by_id")))
        out.sort(key=lambda c: c.at.isoformat() if c.at else "")
        return out

    def iter_tickets(self, *, updated_since: datetime | None = None,
                     status: Iterable[str] | None = None) -> Iterator[Ticket]:
        """Pages ``GET /api/v1/tickets`` (100 a page), filters, yields full tickets oldest first."""
        wanted = set(status) if status is not None else None
        _, states = self._reference()
        rows: list[Mapping[str, Any]] = []
        page = 1
        while True:
            batch = self._call("GET", "/api/v1/tickets", params={"page": page, "per_page": 100}) or []
            rows.extend(batch)
            if len(batch) < 100:
                break
            page += 1
        picked = []
        for r in rows:
            at = parse_time(r.get("updated_at"))
            if updated_since is not None and (at is None or at < updated_since):
                continue
            state = STATE_TO_STATUS.get(states.get(r.get("state_id"), ""), "open")
            if wanted is not None and state not in wanted:
                continue
            picked.append((at.isoformat() if at else "", int(r["id"])))
        for _, ticket_id in sorted(picked):
            try:
                yield self.fetch_ticket(ticket_id)
            except NotFound:
                continue

    # -- writing -------------------------------------------------------------------------------
    def apply(self, ticket_id: int, update: TicketUpdate, *, expected_updated_at: datetime | None,
              delivery_id: str) -> Ticket:
        tid = int(ticket_id)
        current = self._call("GET", f"/api/v1/tickets/{tid}")
        stamp = parse_time(current.get("updated_at"))
        if expected_updated_at is not None and stamp != expected_updated_at:
            raise Conflict(f"zammad: ticket {tid} changed since it was read "
                           f"(updated_at {current.get('updated_at')}, expected {expected_updated_at.isoformat()})")
        fields: dict[str, Any] = {}
        if update.group_id is not None and update.group_id != current.get("group_id"):
            fields["group_id"] = update.group_id
        if update.assignee_id is not None and update.assignee_id != current.get("owner_id"):
            fields["owner_id"] = update.assignee_id
        if update.priority is not None:
            pid = self.priority_id(update.priority)
            if pid != current.get("priority_id"):
                fields["priority_id"] = pid
        for key, value in (update.custom_fields or {}).items():
            if current.get(str(key)) != value:
                fields[str(key)] = value
        if fields:
            self._call("PUT", f"/api/v1/tickets/{tid}", json=fields)
        if update.notes:
            # one article per decision, like Zendesk's one comment per update: the bodies (each
            # ending with its [tiergate:<fingerprint>] line) joined, internal unless all are public
            self._call("POST", "/api/v1/ticket_articles", json={
                "ticket_id": tid, "body": "\n\n".join(n.body for n in update.notes),
                "content_type": "text/plain", "type": "note",
                "internal": not all(n.public for n in update.notes), "sender": "Agent"})
        if update.add_tags or update.remove_tags:
            tags = set((self._call("GET", "/api/v1/tags", params={"object": "Ticket", "o_id": tid})
                        or {}).get("tags") or [])
            for tag in dict.fromkeys(update.remove_tags):
                if tag in tags:
                    self._call("DELETE", "/api/v1/tags/remove",
                               json={"object": "Ticket", "o_id": tid, "item": tag})
            for tag in dict.fromkeys(update.add_tags):
                if tag not in tags and tag not in update.remove_tags:
                    self._call("POST", "/api/v1/tags/add", json={"object": "Ticket", "o_id": tid, "item": tag})
        return self.fetch_ticket(tid)

    def comments_added(self, update: TicketUpdate) -> int:
        return 1 if update.notes else 0                 # the notes go as one article

    def apply_many(self, updates: Sequence[tuple[int, TicketUpdate]], *, delivery_id: str) -> None:
        """No bulk endpoint in Zammad: one ``apply`` per ticket, unguarded (bursts only)."""
        for ticket_id, update in updates:
            if not update.is_empty():
                self.apply(ticket_id, update, expected_updated_at=None, delivery_id=delivery_id)


def from_connection(connection: DeskConnection) -> ZammadConnector:
    """The connector for ``connection``'s Zammad (``zammad_url`` / ``zammad_api_token``, set from
    ``ZAMMAD_URL`` / ``ZAMMAD_TOKEN``)."""
    if not connection.zammad_url:
        raise ValueError("ZAMMAD_URL: required for helpdesk zammad (e.g. https://desk.example.com)")
    if not connection.zammad_api_token:
        raise ValueError("ZAMMAD_TOKEN: required for helpdesk zammad (an agent's API token)")
    return ZammadConnector(connection.zammad_url, connection.zammad_api_token,
                           webhook_secret=connection.webhook_secret)
