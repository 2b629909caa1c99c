"""Content fuzzing over the whole worker path (issue 22): hypothesis builds tickets whose subject,
description and comments hold random Unicode with lone surrogates, emoji, RTL and zero-width
marks, control characters, HTML soup and deeply nested markup, binary-looking text, huge and
empty fields and thousands of comments. Each example is a batch of tickets imported into the
local Zendesk server, delivered by its signed webhooks to the receiver and worked by real RQ
workers (real Redis, real spaCy, the default manifest), one write per ticket or, in burst mode,
through update_many. Every ticket must be decided, with no failed job.

Smoke size by default (well under a minute); ``TIERGATE_FUZZ=long`` or ``bench/bench_fuzz.py``
for the long run. ``clean_text`` / ``bound_conversation`` properties are checked on their own
on the same strategies.
"""
from __future__ import annotations

import json
import math
import os
import unicodedata
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from test_poison_worker import decided, drain, no_failed_jobs, ready
from tiergate.nlp.normalise import MAX_RUN, bound_conversation, break_runs, clean_text

REPO = Path(__file__).resolve().parent.parent
BASES = [json.loads(line) for line in (REPO / "examples" / "tickets.jsonl").read_text().splitlines()]
PROFILES = {    # examples x batch tickets; sizes; weights of ordinary vs huge fields / many comments
    "smoke": dict(examples=12, batch=4, many=400, huge=300_000, depth=3_000, plain=2, rare=1),
    "long": dict(examples=60, batch=25, many=3_000, huge=11_000_000, depth=200_000, plain=2, rare=1),
    "bench": dict(examples=0, batch=100, many=3_000, huge=11_000_000, depth=200_000, plain=30,
                  rare=1),
}
PROFILE = PROFILES[os.environ.get("TIERGATE_FUZZ", "smoke")]

POISON = ["\ud800", "\udbff", "\udc00", "\udfff", "\ud83d", "\x00", "\x01", "\x07", "\x1b[31m",
          "\x7f", "\x85", "\x9b", "\r", "\r\n", "\t", "\x0b", "\x0c", "\u2028", "\u202e", "\u202d",
          "\u200f", "\u200e", "\u2066", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad",
          "\u0301", "\u0308", "e\u0301", "\U0001F600", "\U0001F4A9", "\U0001F468\u200d\U0001F469\u200d\U0001F467",
          "\U0001F1E9\U0001F1EA", "\ufffd", "\uffff", "\U0010FFFF", "\ue000", "שלום", "مرحبا بكم",
          "日本語のテキスト", "Ünïcödé", "ǅ", "ﬁ", "Ⅻ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "&amp;", "&#0;", "&#x1F600;",
          "&nbsp;", "&bogus;", "<", ">", "</", "<!--", "-->", "]]>", "\\u0000", "%00", "' OR 1=1 --",
          "{{ 7*7 }}", "{% raw %}", "${jndi:x}", "\\", '"', "cannot log in", "refund $5000",
          "my lawyer", "cancel my subscription", "URGENT!!!", "still no reply", "thanks, solved",
          "you people are useless", "[tiergate:deadbeef]", "\n> quoted reply\n", "On Mon wrote:\n"]
TAGS = ["div", "p", "b", "i", "a", "span", "table", "tr", "td", "ul", "li", "br", "script", "style",
        "blockquote", "font", "html", "body", "head", "title", "pre", "svg", "math", "select",
        "template", "iframe", "o:p", "x-custom"]

pieces = st.one_of(st.sampled_from(POISON), st.text(max_size=12),
                   st.text(st.characters(codec="utf-8"), max_size=12))
poison_text = st.lists(pieces, max_size=30).map("".join)
attrs = st.lists(st.tuples(st.sampled_from(["class", "style", "href", "onclick", "x"]), poison_text),
                 max_size=2).map(lambda kv: "".join(f' {k}="{v}"' for k, v in kv))
html_soup = st.recursive(
    poison_text,
    lambda kids: st.tuples(st.sampled_from(TAGS), attrs, st.lists(kids, max_size=3), st.booleans())
    .map(lambda t: f"<{t[0]}{t[1]}>{''.join(t[2])}" + (f"</{t[0]}>" if t[3] else "")),
    max_leaves=25)
binary = st.binary(max_size=400).map(lambda b: b.decode("latin-1"))
small = st.one_of(poison_text, poison_text, html_soup, binary,
                  st.sampled_from(["", " ", "\n\n", "\x00", "\ud800"]))


def _log_sizes(top: int):
    """Sizes from 1 to ``top``, as many of each order of magnitude (a pasted log is more often
    kilobytes than ten megabytes); ``top`` itself is always among them."""
    steps = max(1, int(math.log2(top) * 8))
    return st.integers(0, steps).map(lambda e: top if e == steps else int(2 ** (e / 8)))


def fields(profile: dict):
    """Subjects and bodies: mostly ``small``, now and then deeply nested markup or a huge text
    (``rare`` in ``plain + rare``)."""
    nested = st.tuples(st.sampled_from(["div", "ul", "blockquote", "b", "span", "table"]),
                       st.integers(10, profile["depth"]), poison_text).map(
        lambda t: f"<{t[0]}>" * t[1] + t[2] + f"</{t[0]}>" * (t[1] // 2))
    huge = st.tuples(st.sampled_from(["ERROR line of a pasted log 0x7f3a\n", "\U0001F600\u200d",
                                      "<tr><td>cell</td></tr>", "A" * 64, "I cannot log in. "]),
                     _log_sizes(profile["huge"])).map(
        lambda t: t[0] * max(1, t[1] // len(t[0])))
    return st.one_of(*[small] * profile["plain"], *[nested, huge] * profile["rare"])


def tickets(profile: dict = PROFILE):
    """Tickets in the examples format (HACKING.md) with poison content."""
    field = fields(profile)

    def comments(body):
        return st.fixed_dictionaries({
            "author": st.sampled_from(["customer", "customer", "agent"]), "body": body,
            "public": st.booleans(), "channel": st.sampled_from(["web", "email", "chat", "api"]),
            "minutes_ago": st.integers(0, 200_000)})

    few = st.lists(comments(field), max_size=6)
    many = st.tuples(st.lists(comments(small), min_size=1, max_size=3),     # thousands, short
                     st.integers(50, profile["many"])).map(
        lambda t: [dict(t[0][i % len(t[0])], minutes_ago=t[1] - i) for i in range(t[1])])

    @st.composite
    def one(draw):
        obj = json.loads(json.dumps(draw(st.sampled_from(BASES))))
        obj["subject"] = draw(st.one_of(field, st.just(obj["subject"])))
        obj["description"] = draw(st.one_of(field, st.just(obj["description"])))
        obj["comments"] = draw(st.one_of(*[few] * profile["plain"], *[many] * profile["rare"]))
        number = draw(st.integers(0, 10**12))
        obj["requester"]["email"] = f"fuzz{number}@customer.example"
        obj["external_id"] = f"fuzz-{number}"
        return obj

    return one()


field = fields(PROFILE)
batches = st.tuples(st.lists(tickets(), min_size=1, max_size=PROFILE["batch"]), st.booleans())


def run_batch(stack, batch: list[dict], burst: bool) -> list[int]:
    """Import, deliver and work one batch; each ticket decided and no job failed."""
    os.environ["TIERGATE_BATCH_THRESHOLD"] = "-1" if burst else "100000"
    ids = [stack.import_and_wait_for_job(obj, datetime.now(timezone.utc)) for obj in batch]
    drain(stack)
    no_failed_jobs(stack)
    for tid in ids:
        summary = decided(stack, tid)
        assert summary["reasons"] is not None
    return ids


@pytest.fixture
def fuzz_stack(zendesk_stack):
    before = os.environ.get("TIERGATE_BATCH_THRESHOLD")
    yield ready(zendesk_stack)
    if before is None:
        os.environ.pop("TIERGATE_BATCH_THRESHOLD", None)
    else:
        os.environ["TIERGATE_BATCH_THRESHOLD"] = before


def test_generated_tickets_are_all_decided_through_the_worker(fuzz_stack):
    @given(batch=batches)
    @settings(max_examples=PROFILE["examples"], deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def one(batch):
        run_batch(fuzz_stack, *batch)

    one()


@given(raw=st.one_of(field, binary.map(lambda s: s.encode("latin-1"))))
@settings(max_examples=300, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_clean_text_output_is_always_safe(raw):
    text = clean_text(raw)
    text.encode("utf-8")                                  # no lone surrogate survives
    assert not any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text)
    assert unicodedata.is_normalized("NFC", text)


@given(texts=st.lists(field, max_size=80), chars=st.integers(1, 500_000), comments=st.integers(1, 60))
@settings(max_examples=200, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_bounds_always_hold_and_every_cut_is_said(texts, chars, comments):
    kept, note = bound_conversation(texts, chars, comments)
    assert len(kept) <= comments and sum(map(len, kept)) <= chars
    assert all(len(word) <= MAX_RUN for text in kept for word in text.split())
    assert (note is None) == (kept == [break_runs(t) for t in texts if t])
    assert bound_conversation(kept, chars, comments) == (kept, None)
