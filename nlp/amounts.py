"""Money the customer asks for: "refund of $250", "a 20 EUR credit", "$1,200.50 back".

A currency amount is tied to the nearest request word (refund / discount / credit /
compensation ...) within a few words on either side, the one before winning ties.
"""
from __future__ import annotations

import re

from tiergate.nlp._amounts import AsciiAmounts, off_follows

KINDS = {
    "refund": "refund", "refunds": "refund", "refunded": "refund", "reimburse": "refund",
    "reimbursed": "refund", "reimbursement": "refund", "money back": "refund",
    "chargeback": "refund", "charge back": "refund",
    "discount": "discount", "discounted": "discount", "off": "discount",
    "credit": "credit", "credits": "credit", "credited": "credit", "voucher": "credit",
    "compensation": "compensation", "compensate": "compensation", "goodwill": "compensation",
}

# "1,200.50" or "250" or "19.99": D{1,3}(,DDD)+(.D+)? | D+(.D+)?, written to open with one digit
# class, which lets the regex engine skip to the next digit fast
_NUMBER = re.compile(r"\d(?:\d{0,2}(?:,\d{3})+(?:\.\d+)?|\d*(?:\.\d+)?)")
_PRE = ("$", "€", "£", "¥", "usd", "eur", "gbp", "cad", "aud")
_POST = ("usd", "eur", "gbp", "cad", "aud", "dollar", "euro", "pound", "buck")
_UNITS = frozenset(_POST)
KIND = re.compile(r"\b(" + "|".join(sorted((re.escape(k) for k in KINDS), key=len, reverse=True))
                  + r")\b", re.IGNORECASE)
# cheap pre-check (plain substring search is ~40x faster than a regex alternation here)
MONEY_HINTS = ("$", "€", "£", "¥", "usd", "eur", "gbp", "cad", "aud", "dollar", "pound", "buck")
WINDOW = 48  # characters between the request word and the amount


def find_amounts(text: str) -> dict[str, float]:
    """{kind: amount} for each request word with a currency amount near it (largest wins)."""
    if not text:
        return {}
    if text.isascii():
        return _ASCII(text.lower())
    return _find_amounts(text)


def _find_amounts(text: str) -> dict[str, float]:
    """``find_amounts`` with regular expressions, for text that is not ASCII (the compiled
    ``_ASCII`` does the same for ASCII text; tests hold the two together)."""
    lower = text.lower()
    if not _has_hint(lower):
        return {}
    found = []   # (start, end, value): numbers with a currency sign or word next to them
    for m in _NUMBER.finditer(text):
        start, end = m.span()
        before = lower[max(0, start - 4):start].rstrip()
        after = lower[end:end + 10].lstrip()
        scale = 1.0
        if after[:1] == "k" and not after[1:2].isalpha():
            scale, after = 1000.0, after[1:].lstrip()
        if before.endswith(_PRE) or after.startswith(_POST):
            found.append((start, end, float(m.group(0).replace(",", "")) * scale))
    if not found:
        return {}
    # casefold: IGNORECASE also matches look-alikes such as the long s in "diſcount"
    found_kinds = ((m, KINDS.get(m.group(1).casefold())) for m in KIND.finditer(text))
    kinds = [(m.start(), m.end(), kind) for m, kind in found_kinds if kind is not None]
    if not kinds:
        return {}
    out: dict[str, float] = {}
    for a_start, a_end, value in found:
        best = None
        for start, end, kind in kinds:
            if kind == "discount" and text[start:end].lower() == "off" and (
                    start < a_end or not off_follows(text[a_end:start].lower(), _UNITS)):
                continue  # "off" only counts right after the amount: "$20 off"
            gap = a_start - end if end <= a_start else (start - a_end if start >= a_end else 0)
            if 0 <= gap <= WINDOW and (best is None or gap < best[0] or
                                       (gap == best[0] and end <= a_start)):
                best = (gap, kind)
        if best is not None:
            out[best[1]] = max(out.get(best[1], 0.0), value)
    return out


_ASCII = AsciiAmounts(KINDS, _PRE, _POST, MONEY_HINTS, WINDOW)


def _has_hint(lower: str) -> bool:
    for hint in MONEY_HINTS:   # a plain loop: any() over a generator costs more
        if hint in lower:
            return True
    return False
