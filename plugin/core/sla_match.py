"""Whether an SLA policy's ``match`` covers a ticket (``sla_config.Match``), pure.

Every key given in the match must hold: priority and organization segment (``none`` = unset),
group, organization, ticket type (``none`` = unset) and channel (in the list; ``not_*``: not in
it), tags (``tags_any``: at least one, ``tags_none``: none of them) and custom fields (the
ticket's value, as text, is one of the listed values). Keys left empty match any ticket.
"""
from __future__ import annotations

from tiergate.plugin.core.model import Ticket
from tiergate.plugin.core.sla_config import Match


def _segment(ticket: Ticket) -> str:
    org = ticket.organization
    return (org.segment or "none").lower() if org is not None else "none"


def _in(value, allowed: tuple, excluded: tuple = ()) -> bool:
    return (not allowed or value in allowed) and value not in excluded


def field_text(value) -> str:
    """A custom field's value as the match compares it: booleans as ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def covers(m: Match, ticket: Ticket) -> bool:
    """True when every key of ``m`` holds for ``ticket``."""
    if not _in((ticket.priority or "none").lower(), m.priorities):
        return False
    if not _in(_segment(ticket), m.segments):
        return False
    if not _in(ticket.group_id, m.groups, m.not_groups):
        return False
    if not _in(ticket.organization_id, m.organizations, m.not_organizations):
        return False
    if not _in((ticket.type or "none").lower(), m.types, m.not_types):
        return False
    if not _in((ticket.channel or "").lower(), m.channels, m.not_channels):
        return False
    tags = set(ticket.tags)
    if m.tags_any and not tags & set(m.tags_any):
        return False
    if tags & set(m.tags_none):
        return False
    custom = ticket.custom_fields or {}
    return all(field_text(custom.get(key)) in values for key, values in m.fields)
