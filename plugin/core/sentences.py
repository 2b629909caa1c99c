"""Sentence splitting of plain text (line breaks, and . ! ? before a capital, not after a common
abbreviation): what the handoff notes quote and the risk detector reads sentence by sentence."""
from __future__ import annotations

import re

_BREAK = re.compile(r"(?<=[.!?。！？])[\"')\]»]*\s+(?=[^\sa-zà-ÿ0-9])|\n+")
_ABBREV = re.compile(r"\b(art|no|nr|dr|mr|mrs|ms|st|sr|sra|approx|ca|vs|e\.g|i\.e|z\.b|bzw|inc|ltd|"
                     r"co|corp|ref|tel|ext|abs|para|pág|pag|núm|num|jr|prof|m|mme|mlle|srta|dra|"
                     r"hr|fr)\.$", re.I)
# a German ordinal date ("am 1. Oktober", "zum 30. Sept.") is no sentence end
_ORDINAL = re.compile(r"\b\d{1,2}\.$")
_MONTH = re.compile(r"(jan|feb|mär|mae|mar|apr|mai|jun|jul|aug|sep|okt|nov|dez)", re.I)


def sentences(text: str) -> list[str]:
    """Sentences of ``text``: split at line breaks and at . ! ? followed by a capital (not
    after abbreviations such as "Art." or "No.", nor in a date such as "am 1. Oktober"),
    stripped, empty ones dropped."""
    out: list[str] = []
    start = 0
    text = text or ""
    for m in _BREAK.finditer(text):
        piece = text[start:m.start()]
        if m.group(0).strip() == "" and "\n" not in m.group(0) and (
                _ABBREV.search(piece) or _ORDINAL.search(piece)
                and _MONTH.match(text, m.end())):
            continue
        out.append(piece)
        start = m.end()
    out.append(text[start:])
    return [p.strip() for p in out if len(p.strip()) > 1]
