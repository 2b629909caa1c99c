"""Read many Zendesk tickets in few API calls: what a batch of decisions starts from.

``fetch_many(connector, ids) -> (tickets by id, calls)`` builds the same ``Ticket`` as
``ZendeskConnector.fetch_ticket`` with, per chunk of up to 100 tickets:
- one ``GET tickets/show_many.json?ids=...`` for the ticket records,
- one ``GET tickets/{id}/audits.json`` per ticket (more pages only past 100 audits): a Zendesk
  audit carries the ticket's comments as ``Comment`` events (body, public, author, attachments;
  the audit gives ``created_at`` and ``via``) and the field changes, so the comments endpoint is
  not needed,
- one ``GET users/show_many.json`` per 100 distinct comment authors (their roles),
- one ``GET organizations/show_many.json`` for the chunk's organizations not read in the last
  ``ORG_TTL`` seconds (kept per process: an organization's segment and account value change
  rarely); a desk without that endpoint gets one ``GET organizations/{id}.json`` per organization.
That is 1 call per ticket plus a few per chunk, where ``fetch_ticket`` spends 4-5 per ticket.
Tickets that no longer exist are left out of the result. Other desks (no ``show_many``) fall back
to ``fetch_ticket`` per ticket.
"""
from __future__ import annotations

import time
import weakref
from typing import Any, Iterable, Mapping, Sequence

from tiergate.connectors.zendesk import ticket_from_json
from tiergate.plugin.core.errors import NotFound
from tiergate.plugin.core.model import Ticket

CHUNK = 100
ORG_TTL = 60.0
_ORGS: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()  # connector -> {org id: (at, org)}


def supports(connector: Any) -> bool:
    return getattr(connector, "name", "") == "zendesk" and callable(getattr(connector, "_send", None))


class _Counter:
    def __init__(self, connector: Any):
        self.connector, self.calls = connector, 0

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict:
        self.calls += 1
        with self.connector._calls(f"bulk read {path}"):
            return self.connector._send("get", path, params=params)


def comments_from_audits(audits: Sequence[Mapping[str, Any]]) -> list[dict]:
    """The ticket's comments (comments-endpoint shape) from its audits' ``Comment`` events."""
    out = []
    for audit in audits:
        for event in audit.get("events") or ():
            if event.get("type") != "Comment":
                continue
            out.append({**event, "created_at": audit.get("created_at"),
                        "via": event.get("via") or audit.get("via") or {}})
    out.sort(key=lambda c: (c.get("created_at") or "", c.get("id") or 0))
    return out


def _audits(reader: _Counter, ticket_id: int) -> list[dict]:
    audits: list[dict] = []
    params: dict[str, Any] = {"per_page": 100}
    page = 1
    while True:
        answer = reader.get(f"tickets/{ticket_id}/audits.json", {**params, "page": page})
        audits.extend(answer.get("audits") or ())
        more = answer.get("next_page") or (answer.get("meta") or {}).get("has_more")
        if not more or page >= 100:
            return audits
        page += 1


def _organizations(reader: _Counter, ids: set[int]) -> dict[int, dict | None]:
    now = time.monotonic()
    try:
        cache = _ORGS.setdefault(reader.connector, {})
    except TypeError:                    # a connector that cannot be weakly referenced
        cache = {}
    out = {oid: cache[oid][1] for oid in ids if oid in cache and now - cache[oid][0] < ORG_TTL}
    todo = fresh = sorted(ids - set(out))
    if todo and not cache.get("no_show_many"):
        try:
            for at in range(0, len(todo), CHUNK):
                ids_arg = ",".join(map(str, todo[at:at + CHUNK]))
                for org in reader.get("organizations/show_many.json", {"ids": ids_arg}).get("organizations") or ():
                    out[int(org["id"])] = org
            out.update({oid: None for oid in todo if oid not in out})
            todo = []
        except NotFound:                 # no such endpoint on this desk: one read per organization
            cache["no_show_many"] = True
    for oid in todo:
        try:
            out[oid] = reader.get(f"organizations/{oid}.json").get("organization")
        except NotFound:
            out[oid] = None
    if len(cache) > 50_000:
        cache.clear()
    for oid in fresh:
        cache[oid] = (now, out[oid])
    return out


def fetch_many(connector: Any, ids: Iterable[int]) -> tuple[dict[int, Ticket], int]:
    """Tickets by id (missing ones left out) and the number of API calls spent."""
    wanted = list(dict.fromkeys(int(i) for i in ids))
    if not supports(connector):
        found: dict[int, Ticket] = {}
        for tid in wanted:
            try:
                found[tid] = connector.fetch_ticket(tid)
            except NotFound:
                continue
        return found, len(wanted) * 5
    reader = _Counter(connector)
    out: dict[int, Ticket] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        raws = reader.get("tickets/show_many.json", {"ids": ",".join(map(str, chunk))}).get("tickets") or []
        threads: dict[int, tuple[list[dict], list[dict]]] = {}
        for raw in raws:
            try:
                audits = _audits(reader, int(raw["id"]))
            except NotFound:
                continue
            threads[int(raw["id"])] = (comments_from_audits(audits), audits)
        authors = sorted({int(c["author_id"]) for comments, _ in threads.values() for c in comments
                          if c.get("author_id")})
        roles: dict[int, str] = {}
        for at in range(0, len(authors), CHUNK):
            ids_arg = ",".join(map(str, authors[at:at + CHUNK]))
            for user in reader.get("users/show_many.json", {"ids": ids_arg}).get("users") or ():
                roles[int(user["id"])] = user.get("role")
        orgs = _organizations(reader, {int(r["organization_id"]) for r in raws if r.get("organization_id")})
        for raw in raws:
            tid = int(raw["id"])
            if tid not in threads:
                continue
            comments, audits = threads[tid]
            oid = raw.get("organization_id")
            out[tid] = ticket_from_json(raw, comments, roles, orgs.get(int(oid)) if oid else None, audits)
    return out, reader.calls
