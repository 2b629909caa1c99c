"""Ticket text made safe to analyse, and the analysis bounded, whatever a customer, a mail client
or a broken integration put in it.

    clean_text(text_or_bytes)   # str: decoded, lone surrogates -> U+FFFD, no control characters
                                #   but \n and \t, NFC, HTML -> text (scripts and styles dropped)
    clean_text(raw, limit=n)    # the same of the first n characters (a ``Clipped`` str)
    bound_conversation(texts)   # (kept texts, "analysed the ..." or None); bound_texts: + indices
    clean_ticket(ticket)        # every text field of a Ticket cleaned
    bound_ticket(ticket)        # (Ticket, note): same comments, those outside the budget blanked

Budgets: the first message (the request, which the subject joins) and the most recent ones are
kept, up to ``max_comments`` texts and ``max_chars`` characters; an over-long text keeps its start
(a writer's own words come before what they paste or quote). Every cut is said in one sentence.
Since only the start of a long text is ever read, ``clean_ticket`` cleans no more than the first
``CLEAN_LIMIT`` characters of each text (HTML parsing and Unicode normalisation take time in
proportion to the length), and the sentence still counts the characters of the whole text.
"""
from __future__ import annotations

import dataclasses
import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Sequence

from selectolax.lexbor import LexborHTMLParser

MAX_CHARS = 200_000
MAX_COMMENTS = 50
MAX_SUBJECT = 1_000
FIRST_SHARE = 10          # the first message keeps at least 1/FIRST_SHARE of the character budget
MAX_HTML_DEPTH = 2_000    # deeper markup is stripped by pattern: the parser is quadratic in depth
MAX_RUN = 200             # longer runs without a space (pasted blobs) are split for the analysis
CLEAN_LIMIT = 20 * MAX_CHARS  # raw characters of one text cleaned at most (see clean_text)

_SURROGATE = re.compile("[\ud800-\udfff]")
_BREAKS = re.compile("\r\n?|[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# C0/C1 controls but \t and \n, and invisible characters that split a word yet carry no letter
# (zero-width space, word joiner, BOM, soft hyphen); ZWJ/ZWNJ and bidi marks keep their meaning
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\u200b\u2060\ufeff\u00ad]")
_TAG_NAMES = ("html|head|body|div|p|br|span|table|tbody|thead|tr|td|th|ul|ol|li|a|b|i|u|em|"
              "strong|font|img|h[1-6]|blockquote|pre|code|hr|center|section|article|header|"
              "footer|title|meta|style|script|small|big|sub|sup|s|strike|del|ins|label|form|"
              "input|button|select|option|textarea|iframe|nav|main|aside|figure|caption|dl|dt|"
              "dd|abbr|cite|q|mark|o:p|tt|wbr|link|base|col|colgroup|tfoot|noscript|template")
_HTML_TAG = re.compile(rf"</?(?:{_TAG_NAMES})(?:\s[^<>]*)?/?>|<!doctype\s+html|<!--", re.I)
_DOCUMENT = re.compile(r"<!doctype\s+html|<html[\s>]|<body[\s>]", re.I)
_BLOCK = re.compile(r"<(?=/?(?:br|p|div|li|tr|td|th|h[1-6]|table|ul|ol|dl|dt|dd|blockquote|pre|hr|"
                    r"section|article|header|footer|nav|main|aside|figure|form|center|caption|"
                    r"title)\b)", re.I)
# elements whose start tag makes an HTML5 parser scan its stack of open elements (quadratic depth)
_DEEP = re.compile(r"<(/?)(?:div|ul|ol|dl|li|dd|dt|p|blockquote|section|article|aside|nav|header|"
                   r"footer|main|figure|form|fieldset|details|center|address|menu|dir|pre|h[1-6])\b",
                   re.I)
_EDGE_SPACES = re.compile(r"[ \t\xa0]*\n[ \t\xa0]*")
_DROPPED = ("script", "style", "noscript", "template")
_SPACES = re.compile(r"[ \t\r\n\f\v\xa0]+")
_LINE_SPACES = re.compile(r"[ \t\xa0]+")
_BLANK_LINES = re.compile(r"\n{2,}")
_RUN = re.compile(rf"\S{{{MAX_RUN}}}(?=\S)")
_DROP_OPEN = re.compile(r"<(script|style|noscript|template)\b|<!--", re.I)
_TAGS = re.compile(r"<[!?/]?[A-Za-z][^<>]*>|<![^<>]*>")


def _as_str(value: Any) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            return raw.decode("utf-16", "replace")
        return raw.decode("utf-8", "replace")
    return str(value)


class Clipped(str):
    """The cleaned start of a longer raw text; ``whole`` is the raw text's length in characters
    (what the budget sentence counts). Any operation on it returns a plain ``str``."""

    whole: int

    def __new__(cls, text: str = "", whole: int = 0):
        obj = super().__new__(cls, text)
        obj.whole = whole
        return obj

    def __reduce__(self):                  # copies and pickles keep ``whole``
        return Clipped, (str(self), self.whole)


def whole_length(text: str) -> int:
    """The length of the raw text ``text`` was cleaned from (``Clipped``), else its own."""
    return max(len(text), getattr(text, "whole", 0))


def clean_text(text: Any, limit: int | None = None) -> str:
    """A text any part of the pipeline can take: str or bytes (invalid UTF-8 -> U+FFFD; a UTF-16
    BOM is honoured); lone surrogates -> U+FFFD (pairs are joined); HTML (when it looks like
    HTML) -> plain text with its line breaks, scripts and styles dropped; CR, CRLF and other
    line separators -> \\n; NUL and every other control character but \\n and \\t removed; NFC.
    With ``limit``, a longer text is read from its start in windows of ``limit // 10`` raw
    characters (cut before a tag when one is near) until the text read holds ``limit // 20``
    characters or ``limit`` were read: the result is then a ``Clipped`` str."""
    text = _as_str(text)
    if not text:
        return ""
    if limit is not None and len(text) > max(4, limit):
        return _clean_start(text, max(4, limit))
    if _SURROGATE.search(text):
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if looks_like_html(text):
        text = html_to_text(text)
    text = _CONTROLS.sub("", _BREAKS.sub("\n", text))
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text


def _clean_start(text: str, limit: int) -> str:
    """``clean_text`` of the start of a text longer than ``limit`` (see there)."""
    parts: list[str] = []
    at = got = 0
    while at < min(len(text), limit) and got < limit // 20:
        cut = min(len(text), at + limit // 10)
        if cut < len(text):
            tag = text.rfind("<", max(at, cut - 2_000), cut)
            cut = tag if tag > at else cut
            cut += "\ud800" <= text[cut - 1] <= "\udbff"      # a surrogate pair stays whole
        if piece := clean_text(text[at:cut]):
            parts.append(piece)
            got += len(piece)
        at = cut
    joined = "\n".join(parts)
    return joined if at >= len(text) else Clipped(joined, whole_length(text))


def looks_like_html(text: str) -> bool:
    """A document (doctype, <html>, <body>) or at least two known tags / comments: a message
    that mentions one "<br>" stays as written."""
    if "<" not in text:
        return False
    if _DOCUMENT.search(text):
        return True
    found = 0
    for _ in _HTML_TAG.finditer(text):
        found += 1
        if found >= 2:
            return True
    return False


def html_to_text(markup: str) -> str:
    """Plain text of an HTML message: one line per block (p, div, br, li, tr, td, ...), scripts,
    styles and comments dropped, entities decoded, runs of spaces collapsed. Parsed by lexbor
    (selectolax); markup nested deeper than ``MAX_HTML_DEPTH`` (where tree building turns
    quadratic) is stripped tag by tag instead."""
    flat = _BLOCK.sub("\n<", _SPACES.sub(" ", markup))
    if _nesting(markup) > MAX_HTML_DEPTH:
        text = _strip_tags(flat)
    else:
        tree = LexborHTMLParser(flat)
        tree.strip_tags(list(_DROPPED))
        root = tree.body or tree.root
        text = root.text(deep=True, separator="", strip=False) if root is not None else ""
    text = _EDGE_SPACES.sub("\n", _LINE_SPACES.sub(" ", text))
    return _BLANK_LINES.sub("\n", text).strip(" \n")


def _nesting(markup: str) -> int:
    """An upper bound of the depth of the elements that make tree building quadratic, read in
    slices so a huge document never becomes a huge list."""
    if markup.count("<") <= MAX_HTML_DEPTH:
        return 0
    depth = deepest = 0
    for at in range(0, len(markup), 1 << 20):
        for close in _DEEP.findall(markup, at, at + (1 << 20)):
            if close:
                depth = depth - 1 if depth else 0
            else:
                depth += 1
                deepest = max(deepest, depth)
    return deepest


def _strip_tags(markup: str) -> str:
    """Linear fallback: drop script/style/comment blocks (an unclosed one runs to the end, as a
    browser reads it), then every tag, then decode entities."""
    out, at = [], 0
    while True:
        m = _DROP_OPEN.search(markup, at)
        if m is None:
            out.append(markup[at:])
            break
        out.append(markup[at:m.start()])
        name = m.group(1)
        end = (re.compile(f"</{name}", re.I).search(markup, m.end()) if name else
               re.compile("-->").search(markup, m.end()))
        if end is None:
            break
        close = markup.find(">", end.start())
        at = len(markup) if close < 0 else close + 1
    return html.unescape(_TAGS.sub("", "".join(out)))


# -- budgets ------------------------------------------------------------------------------------
def break_runs(text: str) -> str:
    """A space after every ``MAX_RUN`` characters of a run without one: a base64 blob or a long
    line of one character costs the word-level steps (spaCy, WordPiece) time that grows faster
    than its length, and no word is that long."""
    return _RUN.sub(r"\g<0> ", text) if len(text) > MAX_RUN else text


@dataclass(frozen=True)
class Bounded:
    """What ``bound_texts`` kept: the texts (oldest first, each maybe cut), the position of each
    in the input, and the sentence saying what was left out (None: everything was analysed)."""

    texts: list[str]
    indices: list[int]
    note: str | None


def _head(text: str, limit: int) -> str:
    """The start of ``text`` in at most ``limit`` characters, cut at a space when one is near."""
    if len(text) <= limit:
        return text
    piece = text[:max(0, limit)]
    space = max(piece.rfind(" ", len(piece) - 40), piece.rfind("\n", len(piece) - 40))
    return piece[:space].rstrip() if space > len(piece) // 2 else piece


def bound_texts(texts: Sequence[Any], max_chars: int = MAX_CHARS,
                max_comments: int = MAX_COMMENTS) -> Bounded:
    """Keep the first text and the most recent ones, at most ``max_comments`` texts and
    ``max_chars`` characters in all. Over the character budget the first text keeps at least a
    tenth of it (its start), the most recent texts fill the rest newest first, the one that does
    not fit keeps its start and older ones are dropped; room left over goes back to the first.
    Empty texts are neither counted nor kept (a ``Clipped`` one is counted: unread, not empty);
    runs longer than ``MAX_RUN`` are split (``break_runs``) first; so bounding a bounded input
    changes nothing."""
    originals = ["" if t is None else t if isinstance(t, str) else str(t) for t in texts]
    items = [break_runs(str(t)) for t in originals]
    live = [i for i, t in enumerate(items) if t or isinstance(originals[i], Clipped)]
    max_chars, max_comments = max(1, int(max_chars)), max(1, int(max_comments))
    if len(live) <= max_comments:
        window = live
    elif max_comments == 1:
        window = live[-1:]
    else:
        window = [live[0], *live[len(live) - max_comments + 1:]]
    pieces = {i: items[i] for i in window}
    if sum(len(items[i]) for i in window) > max_chars:
        first = len(window) > 1 and window[0] == live[0]
        recent = window[1:] if first else window
        reserve = min(len(items[window[0]]), max_chars // FIRST_SHARE) if first else 0
        room = max_chars - reserve
        pieces = {}
        for i in reversed(recent):
            if len(items[i]) <= room:
                pieces[i] = items[i]
                room -= len(items[i])
                continue
            if room > 0:
                pieces[i] = _head(items[i], room)
                room -= len(pieces[i])
            break
        if first:
            pieces[window[0]] = _head(items[window[0]], reserve + room)
    indices = sorted(i for i in pieces if pieces[i])
    kept = [pieces[i] for i in indices]
    return Bounded(kept, indices, _note(originals, items, live, indices, kept))


def _note(originals: list[str], items: list[str], live: list[int], indices: list[int],
          kept: list[str]) -> str | None:
    """``live``: the positions of the non-empty texts; ``items``: the originals, runs split."""
    n, k = len(live), len(indices)
    parts = []
    if k < n:
        if k > 1 and indices[0] == live[0]:
            parts.append(f"the first and the last {k - 1:,} of {n:,} comments")
        else:
            parts.append(f"the last {k:,} of {n:,} comments")
    kept_chars = sum(len(t) for t in kept)
    cut = any(len(t) < len(items[i]) for t, i in zip(kept, indices)) or \
        any(isinstance(originals[i], Clipped) for i in live)
    if cut:
        total = sum(whole_length(originals[i]) for i in live)
        if n == 1:
            parts.append(f"the first {kept_chars:,} of {total:,} characters")
        else:
            parts.append(f"{kept_chars:,} of {total:,} characters")
    return "analysed " + " and ".join(parts) if parts else None


def bound_conversation(texts: Sequence[Any], max_chars: int = MAX_CHARS,
                       max_comments: int = MAX_COMMENTS) -> tuple[list[str], str | None]:
    """``bound_texts`` without the positions: (kept texts oldest first, sentence or None), e.g.
    "analysed the first and the last 49 of 3,000 comments", "analysed the first 200,000 of
    10,800,000 characters"."""
    b = bound_texts(texts, max_chars, max_comments)
    return b.texts, b.note


# -- whole tickets ------------------------------------------------------------------------------
def clean_ticket(ticket):
    """``ticket`` with subject, description, comment bodies and organization name cleaned
    (the same object when nothing changes)."""
    comments = tuple(c if c.body == (body := clean_text(c.body, CLEAN_LIMIT)) else
                     dataclasses.replace(c, body=body) for c in ticket.comments or ())
    changes: dict[str, Any] = {}
    for name in ("subject", "description"):
        value = getattr(ticket, name)
        cleaned = clean_text(value, CLEAN_LIMIT)
        if cleaned != value and not (value is None and cleaned == ""):
            changes[name] = cleaned
    if any(a is not b for a, b in zip(comments, ticket.comments or ())):
        changes["comments"] = comments
    org = ticket.organization
    if org is not None and isinstance(org.name, str) and \
            (name := clean_text(org.name, CLEAN_LIMIT)) != org.name:
        changes["organization"] = dataclasses.replace(org, name=name)
    return dataclasses.replace(ticket, **changes) if changes else ticket


def _unread(text: str | None) -> str:
    return text if isinstance(text, Clipped) else ""


def bound_ticket(ticket, max_chars: int = MAX_CHARS, max_comments: int = MAX_COMMENTS):
    """(ticket to read, sentence or None): every comment stays where it is (indices, authors and
    times are unchanged, so delays and follow-ups still count), but the bodies outside the
    budgets of ``bound_texts`` are blanked and long ones cut; a long description keeps its
    start, a subject its first ``MAX_SUBJECT`` characters; long runs are split everywhere."""
    comments = ticket.comments or ()
    b = bound_texts([c.body for c in comments], max_chars, max_comments)
    kept = dict(zip(b.indices, b.texts))
    read = tuple(c if kept.get(i, "") == (c.body or "") and not isinstance(c.body, Clipped) else
                 dataclasses.replace(c, body=kept.get(i, "")) for i, c in enumerate(comments))
    changes: dict[str, Any] = ({"comments": read} if any(a is not b for a, b in zip(read, comments))
                               else {})
    note = b.note
    description, subject = (ticket.description or _unread(ticket.description),
                            ticket.subject or _unread(ticket.subject))
    whole, clipped = whole_length(description), isinstance(description, Clipped)
    if (text := _head(break_runs(str(description)), max_chars)) != description or clipped:
        changes["description"] = text
        if not comments and whole > max_chars:
            note = f"analysed the first {len(text):,} of {whole:,} characters"
    whole, clipped = whole_length(subject), isinstance(subject, Clipped)
    if (text := _head(break_runs(str(subject)), MAX_SUBJECT)) != subject or clipped:
        changes["subject"] = text
        if whole > MAX_SUBJECT:
            note = (f"{note} and" if note else "analysed") + \
                f" the first {len(text):,} of {whole:,} characters of the subject"
    return (dataclasses.replace(ticket, **changes) if changes else ticket), note
