"""Money the customer asks for: "refund of $250", "a 20 EUR credit", "$1,200.50 back".

A currency amount is tied to the nearest request word (refund / discount / credit /
compensation ...) within a few words on either side, the one before winning ties.
"""
from __future__ import annotations

import re

from tiergate.nlp._amounts import AsciiAmounts

KINDS = {
    "refund": "refund", "refunds": "refund", "refunded": "refund", "reimburse": "refund",
    "reimbursed": "refund", "reimbursement": "refund", "money back": "refund",
    "chargeback": "refund", "charge back": "refund",
    "discount": "discount", "discounted": "discount", "off": "discount",
    "credit": "credit", "credits": "credit", "credited": "credit", "voucher": "credit",
    "compensation": "compensation", "compensate": "compensation", "goodwill": "compensation",
}

# "1,200.50" or "250" or "19.99": D{1,3}(,DDD)+(.D+)? | D+(.D+)?, written to open with one digit
# class, which lets the regex engine skip to the next digit fast; ASCII text takes [0-9] (= \d
# there), which it skips faster still
_NUMBER_FORM = r"D(?:D{0,2}(?:,D{3})+(?:\.D+)?|D*(?:\.D+)?)"
_NUMBER = re.compile(_NUMBER_FORM.replace("D", r"\d"))
_NUMBER_ASCII = re.compile(_NUMBER_FORM.replace("D", "[0-9]"))
_PRE = ("$", "€", "£", "¥", "usd", "eur", "gbp", "cad", "aud")
_POST = ("usd", "eur", "gbp", "cad", "aud", "dollar", "euro", "pound", "buck")
_ALTERNATIVES = "|".join(sorted((re.escape(k) for k in KINDS), key=len, reverse=True))
KIND = re.compile(r"\b(" + _ALTERNATIVES + r")\b", re.IGNORECASE)
# KIND on lower-cased ASCII text at a fifth of its cost: no IGNORECASE, and no leading \b, so
# the engine can skip to the words' first letters; a match inside a word ("payoff") is dropped
# afterwards, and cannot hide a real one (only "money back" / "charge back" contain a space,
# and no request word starts with "back")
_KIND_LOWER = re.compile("(" + _ALTERNATIVES + r")\b")
# cheap pre-check (plain substring search is ~40x faster than a regex alternation here)
MONEY_HINTS = ("$", "€", "£", "¥", "usd", "eur", "gbp", "cad", "aud", "dollar", "pound", "buck")
WINDOW = 48  # characters between the request word and the amount
_LONGEST = max(map(len, KINDS))


def find_amounts(text: str) -> dict[str, float]:
    """{kind: amount} for each request word with a currency amount near it (largest wins)."""
    if not text:
        return {}
    if text.isascii():
        return _ASCII(text.lower())
    return _find_amounts(text)


def _find_amounts(text: str) -> dict[str, float]:
    """``find_amounts`` with regular expressions: every text (the compiled ``_ASCII`` does the
    same for ASCII text, faster; tests hold the two together)."""
    lower = text.lower()
    if not _has_hint(lower):
        return {}
    found = []   # (start, end, value): numbers with a currency sign or word next to them
    ascii_text = text.isascii()
    for m in (_NUMBER_ASCII if ascii_text else _NUMBER).finditer(text):
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
    # only request words that can lie within WINDOW of an amount (see _request_words)
    reach = WINDOW + _LONGEST + 1
    kinds = _request_words(text, lower, ascii_text, max(0, min(f[0] for f in found) - reach),
                           min(len(text), max(f[1] for f in found) + reach))
    if not kinds:
        return {}
    out: dict[str, float] = {}
    for a_start, a_end, value in found:
        best = None
        for start, end, kind in kinds:
            if kind == "discount" and text[start:end].lower() == "off" and start < a_start:
                continue  # "off" only counts after the amount: "$20 off"
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


def _request_words(text: str, lower: str, ascii_text: bool, lo: int = 0, hi: int | None = None
                   ) -> list[tuple[int, int, str]]:
    """(start, end, kind) of each request word in ``text``, searched in ``lo:hi`` only.

    A window finds what the whole text would wherever it matters: a match that starts before
    ``lo`` or ends at ``hi`` (where the search sees a false word end) is more than WINDOW from
    every amount when ``lo`` / ``hi`` lie WINDOW + the longest request word + 1 beyond them;
    and no match starting before ``lo`` can hide one after it (no request word holds another
    at a word start).
    """
    if hi is None:
        hi = len(text)
    if ascii_text:   # lower() keeps ASCII offsets and case-insensitive matching exact
        return [(m.start(), m.end(), KINDS[m.group(1)])
                for m in _KIND_LOWER.finditer(lower, lo, hi) if _starts_word(lower, m.start())]
    # casefold: IGNORECASE also matches look-alikes such as the long s in "diſcount"
    found = ((m, KINDS.get(m.group(1).casefold())) for m in KIND.finditer(text, lo, hi))
    return [(m.start(), m.end(), kind) for m, kind in found if kind is not None]


def _starts_word(ascii_text: str, i: int) -> bool:
    """A \\b before the word character at ``i``."""
    return i == 0 or not (ascii_text[i - 1].isalnum() or ascii_text[i - 1] == "_")
