"""Zendesk connector: zenpy over real HTTP, translated into tiergate's model and error tree.

``from_connection(connection) -> ZendeskConnector``. Reads use zenpy's object API (ticket, comments,
users, organization, audits); writes go through zenpy's request path with a hand-built payload so
one ``PUT /api/v2/tickets/{id}.json`` carries tags, one internal note, group, assignee, priority,
custom fields and ``safe_update`` + ``updated_stamp`` together.

Pointing at a local server: zenpy reads ``ZENPY_FORCE_SCHEME`` / ``ZENPY_FORCE_NETLOC`` from
``os.environ`` on every request (``zenpy/lib/api.py: BaseApi._build_url / base_url``), and its
response handlers only accept responses whose URL contains that netloc. So when
``connection.zendesk_scheme/netloc`` are set the connector writes them into ``os.environ``
(process-wide) in its constructor and again before each call, and removes them when it has none;
one process therefore talks to one Zendesk at a time (workers, the demo and tests all do).

Never sleeping: zenpy sleeps through every 429 ``Retry-After``. The connector hands zenpy a
``requests.Session`` whose ``request`` raises ``RateLimited(retry_after)`` as soon as a 429 comes
back (before zenpy's sleep loop runs), and ``Unavailable`` on timeouts and refused connections.
Requests time out after ``timeout`` seconds (default 10). No urllib3 retries are mounted. HTTP
error statuses become errors through ``connectors/http_errors.status_to_error``.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Mapping, Sequence

import requests
from zenpy import Zenpy
from zenpy.lib.exception import APIException, ZenpyException

from tiergate.connectors import zendesk_webhook
from tiergate.connectors.base import Delivery
from tiergate.connectors.connection import DeskConnection
from tiergate.connectors.http_errors import status_to_error
from tiergate.plugin.core.errors import ConnectorError, NotFound, TiergateError, Unavailable
from tiergate.plugin.core.manifest_ids import GROUP, SCHEDULE, TICKET_FIELD, USER
from tiergate.plugin.core.model import (Change, Comment, Organization, Ticket, TicketUpdate, format_time,
                                        parse_time)

AUDITED_FIELDS = ("group_id", "status", "priority", "assignee_id")
SEGMENTS = ("vip", "enterprise", "smb")
DEFAULT_TIMEOUT = 10.0


class _NoSleepSession(requests.Session):
    """Raises instead of letting zenpy sleep on 429; turns transport failures into Unavailable."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        try:
            response = super().request(method, url, *args, **kwargs)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise Unavailable(f"zendesk {method} {url}: {type(exc).__name__}") from None
        if response.status_code == 429:
            raise status_to_error(429, response.headers, response.content, what=f"zendesk {method} {url}")
        return response


class ZendeskConnector:
    """The Zendesk side of tiergate (see ``connectors/base.py: Connector``)."""

    name = "zendesk"
    max_batch = 100

    def __init__(self, subdomain: str, email: str, token: str, *, webhook_secret: str | None = None,
                 scheme: str | None = None, netloc: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 timestamp_tolerance: float = 300.0, job_wait: float = 30.0):
        if not subdomain or not email or not token:
            raise ConnectorError("zendesk: subdomain, email and api token are required")
        self.scheme, self.netloc = scheme, netloc
        self.webhook_secret = webhook_secret
        self.timestamp_tolerance = timestamp_tolerance
        self.job_wait = job_wait
        self._point_zenpy()
        self.session = _NoSleepSession()
        self.client = Zenpy(subdomain=subdomain, email=email, token=token, session=self.session,
                            timeout=timeout, disable_cache=True)

    def __repr__(self) -> str:
        return f"ZendeskConnector(netloc={self.netloc or 'zendesk.com'!r})"

    # -- plumbing -------------------------------------------------------------------------------
    def _point_zenpy(self) -> None:
        for var, value in (("ZENPY_FORCE_SCHEME", self.scheme), ("ZENPY_FORCE_NETLOC", self.netloc)):
            if value:
                os.environ[var] = value
            else:
                os.environ.pop(var, None)

    @contextlib.contextmanager
    def _calls(self, what: str) -> Iterator[None]:
        """Point zenpy at our Zendesk and translate anything it raises into ConnectorError."""
        self._point_zenpy()
        try:
            yield
        except TiergateError:
            raise
        except APIException as exc:
            raise _translate(exc.response, what) from None
        except requests.HTTPError as exc:
            raise _translate(exc.response, what) from None
        except requests.RequestException as exc:
            raise Unavailable(f"{what}: {type(exc).__name__}") from None
        except ZenpyException as exc:
            raise ConnectorError(f"{what}: {exc}") from None

    def _url(self, path: str) -> str:
        api = self.client.tickets
        scheme = os.environ.get("ZENPY_FORCE_SCHEME", api.protocol)
        return f"{scheme}://{api.base_url}/api/v2/{path}"

    def _send(self, method: str, path: str, payload: dict | None = None,
              params: Mapping[str, Any] | None = None) -> dict:
        """One raw request through zenpy's call path (auth, URL, response checks); JSON back."""
        api = self.client.tickets
        kwargs: dict[str, Any] = {"timeout": api.timeout}
        if payload is not None:
            kwargs["json"] = payload
        if params:
            kwargs["params"] = dict(params)
        response = api._call_api(getattr(self.session, method), self._url(path), **kwargs)
        return json.loads(response.content) if response.content else {}

    # -- Connector protocol ---------------------------------------------------------------------
    def verify_delivery(self, headers: Mapping[str, str], body: bytes, now: datetime) -> Delivery:
        if not self.webhook_secret:
            raise ConnectorError("zendesk: no webhook secret configured (TIERGATE_WEBHOOK_SECRET)")
        return zendesk_webhook.verify(headers, body, self.webhook_secret, now, self.timestamp_tolerance)

    def fetch_ticket(self, ticket_id: int) -> Ticket:
        with self._calls(f"fetch ticket {ticket_id}"):
            raw = self.client.tickets(id=ticket_id).to_dict()
            comments = [c.to_dict() for c in self.client.tickets.comments(ticket=ticket_id)]
            author_ids = sorted({c["author_id"] for c in comments if c.get("author_id")})
            roles = {u.id: u.role for start in range(0, len(author_ids), 100)      # show_many takes 100
                     for u in self.client.users(ids=author_ids[start:start + 100])}
            org = None
            if raw.get("organization_id"):
                org = self.client.organizations(id=raw["organization_id"]).to_dict()
            audits = [a.to_dict() for a in self.client.tickets.audits(ticket=ticket_id)]
        return ticket_from_json(raw, comments, roles, org, audits)

    def apply(self, ticket_id: int, update: TicketUpdate, *, expected_updated_at: datetime | None,
              delivery_id: str) -> Ticket:
        if update.is_empty():
            return self.fetch_ticket(ticket_id)
        # Zendesk takes one comment per update: when a decision has both, the private note rides
        # with the changes and the public reply follows, guarded by the first write's stamp.
        private = tuple(n for n in update.notes if not n.public)
        public = tuple(n for n in update.notes if n.public)
        writes = [replace(update, notes=private), TicketUpdate(notes=public)] if private and public else [update]
        with self._calls(f"apply to ticket {ticket_id} (delivery {delivery_id})"):
            current = None
            if update.add_tags or update.remove_tags or expected_updated_at is None:
                current = self._send("get", f"tickets/{ticket_id}.json")["ticket"]
            stamp = expected_updated_at or parse_time(current["updated_at"])  # type: ignore[index]
            tags = (current or {}).get("tags")
            for write in writes:
                answer = self._put_safe(ticket_id, ticket_payload(write, current_tags=tags), stamp)
                stamp = parse_time(answer["ticket"]["updated_at"])
        return ticket_after_write(answer)

    def comments_added(self, update: TicketUpdate) -> int:
        return len({n.public for n in update.notes})     # a private and a public one: two writes

    def _put_safe(self, ticket_id: int, body: dict[str, Any], stamp: datetime | None) -> dict:
        body.update(safe_update=True, updated_stamp=format_time(stamp))
        return self._send("put", f"tickets/{ticket_id}.json", {"ticket": body})

    def apply_many(self, updates: Sequence[tuple[int, TicketUpdate]], *, delivery_id: str) -> None:
        """``update_many`` in chunks of ``max_batch``; tags via ``additional_tags``/``remove_tags``
        (no read needed, nothing clobbered); waits for each job_status to complete."""
        todo = [(tid, u) for tid, u in updates if not u.is_empty()]
        for start in range(0, len(todo), self.max_batch):
            chunk = todo[start:start + self.max_batch]
            tickets = [{"id": tid, **ticket_payload(u, current_tags=None)} for tid, u in chunk]
            with self._calls(f"update_many of {len(chunk)} tickets (delivery {delivery_id})"):
                job = self._send("put", "tickets/update_many.json", {"tickets": tickets})["job_status"]
                job = self._wait_job(job)
            failed = [r for r in job.get("results") or [] if not r.get("success", True)]
            if job.get("status") == "failed" or failed:
                missing = [r["id"] for r in failed if r.get("error") == "RecordNotFound"]
                if missing and len(missing) == len(failed):
                    raise NotFound(f"update_many: tickets {missing} not found")
                raise Unavailable(f"update_many job {job.get('id')} {job.get('status')}: {failed or job.get('message')}")

    def _wait_job(self, job: dict) -> dict:
        deadline = time.monotonic() + self.job_wait
        delay = 0.05
        while job.get("status") in ("queued", "working"):
            if time.monotonic() > deadline:
                raise Unavailable(f"job_status {job.get('id')} still {job.get('status')} after {self.job_wait:g}s")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
            job = self.client.job_status(id=job["id"]).to_dict()
        return job

    def known_ids(self, kind: str, ids: Iterable[int]) -> set[int] | None:
        """Which of ``ids`` exist on the desk as ``kind`` (``plugin.core.manifest_ids`` kinds:
        group, user, ticket field, schedule); None for a kind this desk cannot list."""
        wanted = sorted({int(i) for i in ids})
        with self._calls(f"look up {kind} ids"):
            if kind == GROUP:
                return {g.id for g in self.client.groups()} & set(wanted)
            if kind == USER:
                return {u.id for start in range(0, len(wanted), 100)
                        for u in self.client.users(ids=wanted[start:start + 100])}
            if kind == TICKET_FIELD:
                return {f.id for f in self.client.ticket_fields()} & set(wanted)
            if kind == SCHEDULE:
                rows = self._send("get", "business_hours/schedules.json").get("schedules") or []
                return {int(r["id"]) for r in rows} & set(wanted)
        return None

    def iter_tickets(self, *, updated_since: datetime | None = None,
                     status: Iterable[str] | None = None) -> Iterator[Ticket]:
        """Incremental export from ``updated_since`` (default: the epoch), oldest first; each
        ticket matching ``status`` is fetched in full."""
        wanted = set(status) if status is not None else None
        start = int(updated_since.timestamp()) if updated_since else 0
        seen: set[int] = set()
        while True:
            with self._calls("incremental ticket export"):
                page = self._send("get", "incremental/tickets.json", params={"start_time": start})
            for raw in page.get("tickets") or []:
                if raw["id"] in seen or (wanted is not None and raw.get("status") not in wanted):
                    continue
                at = parse_time(raw.get("updated_at"))
                if updated_since and at and at < updated_since:
                    continue
                seen.add(raw["id"])
                try:
                    yield self.fetch_ticket(raw["id"])
                except NotFound:
                    continue
            end = page.get("end_time") or start
            if page.get("end_of_stream", True) or end <= start:
                return
            start = end


def from_connection(connection: DeskConnection) -> ZendeskConnector:
    """The connector for ``connection``'s Zendesk (subdomain, email, token, scheme/netloc, webhook secret)."""
    return ZendeskConnector(
        connection.zendesk_subdomain or "", connection.zendesk_email or "", connection.zendesk_api_token or "",
        webhook_secret=connection.webhook_secret, scheme=connection.zendesk_scheme,
        netloc=connection.zendesk_netloc, timeout=float(connection.zendesk_timeout),
        timestamp_tolerance=connection.timestamp_tolerance)


# -- translation (pure) -------------------------------------------------------------------------
def _translate(response: requests.Response | None, what: str) -> ConnectorError:
    if response is None:
        return Unavailable(f"{what}: no response")
    return (status_to_error(response.status_code, response.headers, response.content, what=what)
            or ConnectorError(f"{what}: {response.status_code} {response.reason}"))


def ticket_payload(update: TicketUpdate, *, current_tags: Sequence[str] | None) -> dict[str, Any]:
    """The ``ticket`` object of one update. With ``current_tags`` the full tag list is sent
    (current + add − remove); without, ``additional_tags`` / ``remove_tags`` (update_many)."""
    body: dict[str, Any] = {}
    if update.add_tags or update.remove_tags:
        if current_tags is not None:
            removed = set(update.remove_tags)
            body["tags"] = [t for t in dict.fromkeys([*current_tags, *update.add_tags]) if t not in removed]
        else:
            if update.add_tags:
                body["additional_tags"] = list(update.add_tags)
            if update.remove_tags:
                body["remove_tags"] = list(update.remove_tags)
    if update.notes:
        # one comment per update: notes of the same visibility are joined (apply splits them)
        body["comment"] = {"body": "\n\n".join(n.body for n in update.notes),
                           "public": all(n.public for n in update.notes)}
    if update.group_id is not None:
        body["group_id"] = update.group_id
    if update.assignee_id is not None:
        body["assignee_id"] = update.assignee_id
    if update.priority is not None:
        body["priority"] = update.priority
    if update.custom_fields:
        body["custom_fields"] = [{"id": int(k) if str(k).isdigit() else k, "value": v}
                                 for k, v in update.custom_fields.items()]
    return body


def _int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _role(role: str | None) -> str:
    return "end-user" if role in (None, "end-user", "end_user") else "agent"


def _organization(raw: Mapping[str, Any] | None) -> Organization | None:
    if not raw:
        return None
    fields = dict(raw.get("organization_fields") or {})
    tags = tuple(raw.get("tags") or ())
    segment = fields.get("segment") or next((t for t in tags if t in SEGMENTS), None)
    value = fields.get("account_value")
    renewal = fields.get("renewal_date") or fields.get("renewal_at")
    renewal_at = None
    if renewal:
        try:
            renewal_at = parse_time(renewal if "T" in str(renewal) else f"{renewal}T00:00:00Z")
        except ValueError:
            renewal_at = None
    try:
        account_value = float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        account_value = None
    return Organization(id=int(raw["id"]), name=raw.get("name") or "", tags=tags, segment=segment,
                        account_value=account_value, renewal_at=renewal_at, fields=fields)


def _changes(audits: Sequence[Mapping[str, Any]]) -> tuple[Change, ...]:
    out: list[Change] = []
    for audit in sorted(audits, key=lambda a: parse_time(a.get("created_at")) or datetime.min.replace(tzinfo=timezone.utc)):
        at = parse_time(audit.get("created_at"))
        for event in audit.get("events") or []:
            field = event.get("field_name")
            if event.get("type") not in ("Create", "Change") or field not in AUDITED_FIELDS:
                continue
            old, new = event.get("previous_value"), event.get("value")
            if field in ("group_id", "assignee_id"):
                old, new = _int(old), _int(new)
            out.append(Change(at=at, field=field, old=old, new=new, author_id=_int(audit.get("author_id"))))
    return tuple(out)


def ticket_from_json(raw: Mapping[str, Any], comments: Sequence[Mapping[str, Any]] = (),
                     roles: Mapping[int, str] | None = None, organization: Mapping[str, Any] | None = None,
                     audits: Sequence[Mapping[str, Any]] = ()) -> Ticket:
    """Zendesk JSON (ticket, its comments, author roles, organization, audits) -> ``Ticket``."""
    roles = roles or {}
    channel = (raw.get("via") or {}).get("channel") or "web"
    thread = tuple(Comment(
        id=int(c["id"]), author_id=_int(c.get("author_id")),
        author_role=_role(roles.get(_int(c.get("author_id")) or -1)) if c.get("author_id") else "system",
        body=c.get("body") or c.get("plain_body") or "", public=bool(c.get("public", True)),
        created_at=parse_time(c.get("created_at")), channel=(c.get("via") or {}).get("channel") or channel,
        attachments=tuple(a.get("file_name", "") for a in c.get("attachments") or ()),
    ) for c in comments)
    rating = raw.get("satisfaction_rating") or {}
    score = rating.get("score") if isinstance(rating, Mapping) else None
    custom = {str(f["id"]): f.get("value") for f in raw.get("custom_fields") or () if isinstance(f, Mapping)}
    return Ticket(
        id=int(raw["id"]), subject=raw.get("subject") or "", description=raw.get("description") or "",
        status=raw.get("status") or "new", priority=raw.get("priority"), type=raw.get("type"),
        group_id=_int(raw.get("group_id")), assignee_id=_int(raw.get("assignee_id")),
        requester_id=_int(raw.get("requester_id")), organization_id=_int(raw.get("organization_id")),
        tags=tuple(raw.get("tags") or ()), channel=channel, created_at=parse_time(raw.get("created_at")),
        updated_at=parse_time(raw.get("updated_at")), custom_fields=custom, comments=thread,
        organization=_organization(organization), changes=_changes(audits),
        satisfaction=score if score in ("good", "bad") else None, problem_id=_int(raw.get("problem_id")),
        via_followup_source_id=_followup_source(raw),
    )


def _followup_source(raw: Mapping[str, Any]) -> int | None:
    """``via_followup_source_id``, or the source ticket of a ``via.source.rel == "follow_up"``."""
    if raw.get("via_followup_source_id"):
        return _int(raw["via_followup_source_id"])
    source = (raw.get("via") or {}).get("source") or {}
    if source.get("rel") == "follow_up":
        origin = source.get("from") or source.get("from_") or {}
        return _int(origin.get("ticket_id") or origin.get("id"))
    return None


def ticket_after_write(answer: Mapping[str, Any]) -> Ticket:
    """The ticket from a ``PUT`` answer; comments are those the write's audit added (the thread
    is not re-read: call ``fetch_ticket`` for the full picture)."""
    audit = answer.get("audit") or {}
    comments = [{**e, "created_at": audit.get("created_at"), "via": audit.get("via")}
                for e in audit.get("events") or () if e.get("type") == "Comment"]
    author = _int(audit.get("author_id"))
    roles = {author: "agent"} if author is not None else {}   # the write was made by our API user
    return ticket_from_json(answer["ticket"], comments, roles, None, [audit] if audit else [])
