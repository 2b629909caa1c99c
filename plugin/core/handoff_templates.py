"""The handoff area's built-in templates, the variables each one receives, and the facts a
manifest template may not drop.

Ops override any of them under the manifest's ``templates`` key (sandboxed Jinja, see
``plugin.core.templates``). ``required_problems`` is what ``tiergate check`` runs: a ``handoff``
template must print every section of the note and an on-call page template must print the
summary, what the customer wants, the deadline and the impact.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from tiergate.plugin.core.templates import TemplateError, template_variables

#: One section: a bold title and one bullet per line. The renderer never passes an empty list
#: for a required section (it holds "none stated" / "nothing recorded yet" instead).
_SECTION = (
    "{% macro section(title, items) %}{% if items %}\n\n**{{ title }}**\n"
    "{% for item in items %}- {{ item }}\n{% endfor %}{% endif %}{% endmacro %}"
)

#: The sections of a handoff note, in order: (context variable, title).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"),
    ("wants", "What the customer wants"),
    ("deadline", "Deadline"),
    ("impact", "Impact"),
    ("tried", "What was tried"),
    ("why", "Why it escalated"),
    ("sla", "SLA"),
    ("owner", "Owner and next step"),
    ("approver", "Approver"),
)

DEFAULT_TEMPLATES: dict[str, str] = {
    "handoff": _SECTION + (
        "{{ owner_line }}\n"
        + "".join(f"{{{{ section('{title}', {key}) }}}}" for key, title in SECTIONS)
        + "{{ section('Errors, logs, attachments', evidence) }}"
        "{{ section('Promised to the customer', promises) }}"
        "{{ section('Risk signals', risk) }}"
        "{{ section('Conversation', thread) }}"
    ),
    "handoff_missing": (
        "{{ mention }}: this ticket moved to {{ to_tier }} without the context the next owner "
        "needs to act without asking the customer again. "
        "Missing: {{ missing_labels | join('; ') }}.\n\n"
        "Add it in one internal comment, for example:\n"
        "#handoff {% for key in missing %}{{ key }}: ...{% if not loop.last %}; {% endif %}"
        "{% endfor %}\n\n\n"
        "tiergate then removes the tag `{{ tag }}` and writes the full handoff note."
    ),
    "handoff_public": (
        "Hello,\n\n"
        "a quick update on your request: {{ owner_phrase }} {{ team }} has it now and already "
        "has the full history of this conversation, so there is no need to repeat anything. "
        "You will hear from us {{ next_update }}.\n\n"
        "Thank you for your patience."
    ),
    "authority_within": (
        "{{ mention }}: the {{ kind }} of {{ amount }} is within {{ tier }} authority "
        "(up to {{ limit }}). You may approve it now; no escalation is needed for it."
    ),
    "authority_above": (
        "{{ mention }}: the {{ kind }} of {{ amount }} is above {{ tier }} authority "
        "(up to {{ limit }}). It needs approval from {{ approver }}."
    ),
    "oncall_page": (
        "[tiergate] {{ trigger }}: ticket #{{ ticket.id }} {{ ticket.subject }}\n"
        "Summary: {{ summary }}\n"
        "Customer wants: {{ wants }}\n"
        "Deadline: {{ deadline }}\n"
        "Impact: {{ impact }}\n"
        "{{ reasons | join('\n') }}"
    ),
}

_NOTE_FACTS = frozenset({"summary", "wants", "deadline", "impact", "tried", "why", "sla",
                         "owner", "approver"})

#: The variables each template receives (for the manifest check and for ops).
TEMPLATE_VARIABLES: dict[str, frozenset[str]] = {
    "handoff": _NOTE_FACTS | frozenset({"owner_line", "evidence", "promises", "risk", "thread",
                                        "customer", "reason", "authority", "facts", "ticket",
                                        "escalation", "fingerprint", "sections"}),
    "handoff_missing": frozenset({"mention", "to_tier", "moved_by", "missing", "missing_labels",
                                  "tag", "ticket"}),
    "handoff_public": frozenset({"owner_phrase", "owner_first_name", "team", "next_update",
                                 "update_by", "ticket"}),
    "authority_within": frozenset({"mention", "kind", "amount", "limit", "tier", "approver"}),
    "authority_above": frozenset({"mention", "kind", "amount", "limit", "tier", "approver"}),
}

#: Facts a manifest template must print (``tiergate check`` rejects one that drops any).
REQUIRED_VARIABLES: dict[str, frozenset[str]] = {
    "handoff": _NOTE_FACTS,
}
#: What every on-call page template (``oncall.routes.<name>.template``) must print.
PAGE_REQUIRED = frozenset({"summary", "wants", "deadline", "impact"})


def required_problems(templates: Mapping[str, Any],
                      page_templates: Iterable[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """``(json path, message)`` for each template that drops a required fact.

    ``templates``: the manifest's ``templates``; ``page_templates``: ``(route path, template
    name)`` of each on-call route. Templates with a syntax error are left to the syntax check."""
    errs: list[tuple[str, str]] = []

    def missing(source: Any, required: frozenset[str]) -> list[str] | None:
        if not isinstance(source, str):
            return None
        try:
            used = template_variables(source)
        except TemplateError:
            return None
        return sorted(required - used)

    for name, required in REQUIRED_VARIABLES.items():
        gone = missing(templates.get(name), required)
        if gone:
            errs.append((f"templates.{name}", "the handoff note template drops required "
                         f"fact(s) {', '.join(gone)}; it must print {', '.join(sorted(required))}"))
    for path, name in page_templates:
        gone = missing(templates.get(name), PAGE_REQUIRED)
        if gone:
            errs.append((path, f"on-call page template '{name}' drops required fact(s) "
                         f"{', '.join(gone)}; a page must print "
                         f"{', '.join(sorted(PAGE_REQUIRED))}"))
    return errs


__all__ = ["DEFAULT_TEMPLATES", "TEMPLATE_VARIABLES", "REQUIRED_VARIABLES", "PAGE_REQUIRED",
           "SECTIONS", "required_problems"]
