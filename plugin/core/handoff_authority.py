"""Authority: amounts the customer asks for against the limits of the tier that holds them.

- ``authority_checks(enrichment, manifest, tier)``: each amount with a limit for ``tier``;
- ``authority_note(...)``: the internal note "within: you may approve it now" / "above: needs
  approval from ..." (an ``authority_check`` action);
- ``approver_for(enrichment, manifest, owner_tier, owner_id)``: the one approver a handoff note
  names: for the largest amount with a configured limit, the owner after the move when it is
  within their limit (a tier without a limit of its own keeps the highest limit of the tiers
  below it), else the manifest's approver for that kind, else the lowest tier whose
  limit covers it (else the top tier). None when no amount has a limit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tiergate.plugin.core.handoff_marker import fingerprint, marker
from tiergate.plugin.core.handoff_text import (TierInfo, _currency, _find_tier, _first, _get,
                                               _mention, _money, _number_map, _people, _render,
                                               _settings, _tiers, escape, ZENDESK_COMMENT_LIMIT)
from tiergate.plugin.core.model import Enrichment, Note, Ticket


#: How an amount kind reads in a note ("money": any sum at stake, not a request word).
KIND_LABELS = {"money": "amount"}


@dataclass(frozen=True)
class AuthorityCheck:
    """One amount asked for, against the current tier's limit."""

    kind: str
    amount: float
    limit: float
    tier: str
    tier_label: str
    within: bool
    approver: str | None          # tier/team name that may approve (None when within)
    approver_mention: str         # "@Dee Manager (Management)" or "" when within


def _limit_for(manifest: Any, tier: TierInfo, kind: str) -> float | None:
    if kind in tier.authority:
        return tier.authority[kind]
    top = _get(manifest, "authority")
    if top is not None:
        limits = _get(top, "limits")
        per_tier = _get(limits if limits is not None else top, tier.name)
        if per_tier is not None:
            return _number_map(per_tier).get(kind)
    return None


def _approver(manifest: Any, tier: TierInfo, kind: str, amount: float) -> TierInfo | None:
    approvers = _get(manifest, "approvers") or _get(_get(manifest, "authority"), "approvers") or {}
    explicit = _get(approvers, kind) or tier.approver
    if explicit:
        found = _find_tier(manifest, name=str(explicit))
        if found is not None:
            return found
    ladder = sorted((t for t in _tiers(manifest) if t.kind == "hierarchical"),
                    key=lambda t: t.order)
    above = [t for t in ladder if t.order > tier.order]
    for t in above:
        lim = _limit_for(manifest, t, kind)
        if lim is not None and amount <= lim:
            return t
    return above[-1] if above else None


def authority_checks(enrichment: Enrichment, manifest: Any,
                     tier: str | None) -> tuple[AuthorityCheck, ...]:
    """Each amount in ``enrichment.amounts`` with a limit configured for ``tier``."""
    current = _find_tier(manifest, name=tier) if tier else None
    if current is None:
        return ()
    out = []
    for kind, amount in sorted((enrichment.amounts or {}).items()):
        lim = _limit_for(manifest, current, kind)
        if lim is None:
            continue
        within = float(amount) <= lim
        appr = None if within else _approver(manifest, current, kind, float(amount))
        mention = "" if within else (_mention(manifest, appr, appr.owner_id, appr.name) if appr
                                     else "a manager")
        out.append(AuthorityCheck(kind, float(amount), lim, current.name, current.label, within,
                                  appr.name if appr else None, mention))
    return tuple(out)


def authority_note(ticket: Ticket, enrichment: Enrichment, manifest: Any, now: datetime, *,
                   tier: str | None = None, template_within: str | None = None,
                   template_above: str | None = None, limit: int | None = None) -> Note | None:
    """Internal note for amounts asked for: within the current tier's limit -> "you may approve
    it now"; above -> names the approver. ``tier`` defaults to the tier of the ticket's group;
    ``template_within`` / ``template_above`` name manifest templates (defaults
    ``authority_within`` / ``authority_above``). None when no amount has a configured limit."""
    current = (_find_tier(manifest, name=tier) if tier else
               _find_tier(manifest, group_id=ticket.group_id))
    if current is None:
        return None
    checks = authority_checks(enrichment, manifest, current.name)
    if not checks:
        return None
    currency = _currency(manifest)
    mention = _mention(manifest, current, ticket.assignee_id, current.name)
    parts = []
    for chk in checks:
        default = "authority_within" if chk.within else "authority_above"
        name = (template_within if chk.within else template_above) or default
        parts.append(_render(manifest, name, {
            "mention": mention, "kind": escape(KIND_LABELS.get(chk.kind, chk.kind)),
            "amount": _money(chk.amount, currency),
            "limit": _money(chk.limit, currency), "tier": escape(chk.tier_label),
            "approver": chk.approver_mention}, default))
    key = ",".join(f"{c.kind}={c.amount:g}" for c in checks)
    fp = fingerprint(ticket.id, "authority", current.name, key, kind="authority")
    body = _fit("\n\n".join(parts), marker(fp), _limit(manifest, limit))
    return Note(body=body, public=False, fingerprint=fp)


def _limit(manifest: Any, limit: int | None) -> int:
    if limit is not None:
        return int(limit)
    return int(_first(_settings(manifest), "comment_limit", "max_bytes") or ZENDESK_COMMENT_LIMIT)


def _fit(body: str, mark: str, limit: int) -> str:
    """Body + marker line within ``limit`` UTF-8 bytes (the marker always survives)."""
    full = f"{body}\n\n{mark}"
    if len(full.encode()) <= limit:
        return full
    tail = f"\n… (trimmed to fit the comment size limit)\n\n{mark}"
    room = max(0, limit - len(tail.encode()))
    cut = body.encode()[:room].decode("utf-8", errors="ignore")
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    return cut.rstrip() + tail


@dataclass(frozen=True)
class Approver:
    """Who approves the amount asked for: a tier or team, its person, the limit and the amount."""

    tier: str
    label: str
    person: str | None
    kind: str
    amount: float
    limit: float | None
    is_owner: bool        # the owner after the move may approve it


def _owner_limit(manifest: Any, tier: TierInfo, kind: str) -> float | None:
    """A tier's own limit for ``kind``; a tier without one keeps the highest limit of the tiers
    below it (what Tier 1 may approve, Tier 2 may approve too)."""
    own = _limit_for(manifest, tier, kind)
    if own is not None or tier.kind != "hierarchical":
        return own
    below = [_limit_for(manifest, t, kind) for t in _tiers(manifest)
             if t.kind == "hierarchical" and t.order < tier.order]
    below = [b for b in below if b is not None]
    return max(below) if below else None


def approver_for(enrichment: Enrichment | None, manifest: Any, owner_tier: TierInfo | None,
                 owner_id: int | None) -> Approver | None:
    if enrichment is None or not enrichment.amounts:
        return None
    tiers = _tiers(manifest)
    asked = []
    for kind, amount in (enrichment.amounts or {}).items():
        if any(_limit_for(manifest, t, kind) is not None for t in tiers):
            asked.append((float(amount), str(kind)))
    if not asked:
        return None
    amount, kind = max(asked)
    people = _people(manifest)
    if owner_tier is not None:
        own = _owner_limit(manifest, owner_tier, kind)
        if own is not None and amount <= own:
            person = people.get(owner_id) if owner_id is not None else None
            return Approver(owner_tier.name, owner_tier.label, person, kind, amount, own, True)
    ladder = sorted((t for t in tiers if t.kind == "hierarchical"), key=lambda t: t.order)
    if owner_tier is not None and owner_tier.kind == "hierarchical":
        tier = _approver(manifest, owner_tier, kind, amount)
    else:           # a functional team (or no owner): the first tier of the ladder that may
        explicit = _find_tier(manifest, name=str(_get(_get(manifest, "approvers")
                                                      or _get(_get(manifest, "authority"),
                                                              "approvers") or {}, kind) or ""))
        covering = [t for t in ladder if (_limit_for(manifest, t, kind) or -1) >= amount]
        tier = explicit or (covering[0] if covering else (ladder[-1] if ladder else None))
    if tier is None:
        return None
    is_owner = owner_tier is not None and tier.name == owner_tier.name
    person_id = owner_id if is_owner else tier.owner_id
    person = people.get(person_id) if person_id is not None else None
    return Approver(tier.name, tier.label, person, kind, amount,
                    _limit_for(manifest, tier, kind), is_owner)


__all__ = ["AuthorityCheck", "Approver", "authority_checks", "authority_note", "approver_for"]
