"""``tiergate check --against-desk``: every desk id the effective manifest references, looked up on
the live desk through its connector (the credentials ``tiergate install`` uses: ``ZENDESK_*`` or
``ZAMMAD_URL`` / ``ZAMMAD_TOKEN``).

Each unknown id is one line naming its manifest path (``tiers.tier_3.group_id 103: no such group
on the desk``); a kind the desk cannot list is said once and not counted as an error. Nothing
here prints a credential: errors are the connector's (which name requests, never tokens).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from tiergate.plugin.core.errors import ConnectorError
from tiergate.plugin.core.manifest_ids import IdRef, referenced_ids
from tiergate.runtime.config import Settings


class DeskCheckError(Exception):
    """The desk could not be asked (missing settings, unreachable, refused)."""


def connector_for(helpdesk: str, settings: Settings):
    """The configured desk's connector, or DeskCheckError naming the missing setting."""
    from tiergate.connectors.registry import get_connector

    try:
        return get_connector(settings.with_(helpdesk=helpdesk).connection())
    except (ValueError, ConnectorError) as exc:
        hint = ("ZENDESK_SUBDOMAIN, ZENDESK_EMAIL and ZENDESK_API_TOKEN" if helpdesk == "zendesk"
                else "ZAMMAD_URL and ZAMMAD_TOKEN")
        raise DeskCheckError(f"cannot connect to {helpdesk}: {exc} (set {hint})") from None


def unknown_ids(connector: Any, refs: Iterable[IdRef]) -> tuple[list[IdRef], list[str], dict[str, int]]:
    """(the references the desk does not know, the kinds it could not check, ids checked per kind)."""
    refs = list(refs)
    by_kind: dict[str, set[int]] = {}
    for ref in refs:
        by_kind.setdefault(ref.kind, set()).add(ref.id)
    unknown: list[IdRef] = []
    unchecked: list[str] = []
    counts: dict[str, int] = {}
    for kind, ids in by_kind.items():
        try:
            known = connector.known_ids(kind, ids)
        except ConnectorError as exc:
            raise DeskCheckError(f"looking up {kind} ids: {exc}") from None
        if known is None:
            unchecked.append(kind)
            continue
        counts[kind] = len(ids)
        unknown += [r for r in refs if r.kind == kind and r.id not in known]
    order = {id(r): i for i, r in enumerate(refs)}
    return sorted(unknown, key=lambda r: order[id(r)]), unchecked, counts


def check_against_desk(doc: dict, helpdesk: str, settings: Settings,
                       echo: Callable[[str], None]) -> int:
    """Print one line per unknown id (and per kind not checked), then a summary; 1 if any id is
    unknown, else 0. DeskCheckError when the desk cannot be asked."""
    connector = connector_for(helpdesk, settings)
    unknown, unchecked, counts = unknown_ids(connector, referenced_ids(doc))
    for ref in unknown:
        echo(f"{ref.path} {ref.id}: no such {ref.kind} on the desk")
    for kind in unchecked:
        echo(f"note: {helpdesk} cannot list {kind} ids; those were not checked")
    checked = ", ".join(f"{n} {kind} ids" for kind, n in counts.items()) or "no ids"
    if unknown:
        echo(f"{helpdesk}: {len(unknown)} unknown id(s) ({checked} checked)")
        return 1
    echo(f"{helpdesk}: every id the manifest references exists on the desk ({checked})")
    return 0
