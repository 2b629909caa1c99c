"""A linear-time pre-test for costly ``re`` patterns.

RE2 scans a text in one pass whatever the number of alternatives, where ``re`` tries every
alternative at every position. ``Prefiltered(pattern)`` gives RE2 a loosened copy of the
pattern that matches wherever the original could (no word boundaries, no look-arounds, no
anchors, Unicode classes for ``\\w``, ``\\d`` and ``\\s``), so a text RE2 rejects needs no ``re``
search at all; a text it accepts is searched by the original, which alone decides what matches.

    p = Prefiltered(re.compile(r"\\bwhole (team|office)\\b", re.I))
    list(p.finditer(text))      # the same matches as the pattern's own finditer
"""
from __future__ import annotations

import re
from typing import Iterator

import re2

_OPTIONS = re2.Options()
_OPTIONS.max_mem = 32 << 20
# outside a character class: what each escape becomes in the loosened copy
_LOOSE = {"b": "", "B": "", "w": r"[\pL\pN\pM_]", "d": r"\pN", "s": r"[\s\pZ\x1c-\x1f\x85]",
          "W": r"[\s\S]", "D": r"[\s\S]", "S": r"[\s\S]", "A": "", "Z": ""}
_CLASS_ESCAPES = frozenset("wWdDsSbB")


def loosened(pattern: str) -> str | None:
    """The pattern without boundaries and look-arounds, with Unicode classes; None when it holds
    something the loosening cannot keep a superset of (a class escape inside brackets, a back-
    reference, an empty lower bound ``{,n}``)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if in_class:
                if nxt in _CLASS_ESCAPES:
                    return None
                out.append(pattern[i:i + 2])
            elif nxt.isdigit() and nxt != "0":
                return None                           # a back-reference
            else:
                out.append(_LOOSE.get(nxt, pattern[i:i + 2]))
            i += 2
            continue
        if in_class:
            if c == "]" and pattern[i - 1] not in "[^":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            continue
        if pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
            i = _after_group(pattern, i)              # a look-around: any text may pass it
            if i < 0:
                return None
            continue
        if c == "{" and pattern.startswith("{,", i):
            return None
        if c in "^$":                                 # anchors: RE2's "$" is stricter
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _after_group(pattern: str, start: int) -> int:
    """Index after the group opened at ``start`` (-1 when unbalanced)."""
    depth, i, in_class = 0, start, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


class Prefiltered:
    """A compiled ``re`` pattern searched only in texts its RE2 pre-test accepts."""

    def __init__(self, pattern: re.Pattern):
        self.pattern = pattern
        self._pre = None
        loose = loosened(pattern.pattern)
        if loose is not None:
            flags = ("i" if pattern.flags & re.I else "") + ("m" if pattern.flags & re.M else "") \
                + ("s" if pattern.flags & re.S else "")
            try:
                self._pre = re2.compile(f"(?{flags}){loose}" if flags else loose, _OPTIONS)
            except Exception:          # re2.error: a construct RE2 does not take; re alone
                self._pre = None

    def possible(self, text: str) -> bool:
        return self._pre is None or self._pre.search(text) is not None

    def finditer(self, text: str) -> Iterator[re.Match]:
        return self.pattern.finditer(text) if self.possible(text) else iter(())

    def search(self, text: str, *args) -> re.Match | None:
        return self.pattern.search(text, *args) if self.possible(text) else None
