"""Poison text made safe and bounded (``nlp.normalise``), checked on the real spaCy pipeline:
each case of issue 22 broke the enricher (or the phrase match) before cleaning and bounding."""
from __future__ import annotations

import copy
import pickle
import unicodedata
from datetime import datetime, timedelta, timezone

import pytest

from tiergate.nlp.enrich import Enricher
from tiergate.nlp.normalise import (CLEAN_LIMIT, MAX_CHARS, MAX_RUN, bound_conversation,
                                    bound_texts, bound_ticket, clean_text, clean_ticket,
                                    whole_length)
from tiergate.nlp.risk import SENTENCES_READ
from tiergate.plugin.core.model import Comment, Ticket

NOW = datetime(2024, 5, 6, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def enricher():
    return Enricher()


def tags(enrichment) -> set[str]:
    return {t.tag for t in enrichment.risk_tags}


def ticket(comments=(), subject="Help", description="help") -> Ticket:
    return Ticket(id=7, subject=subject, description=description, status="open", priority=None,
                  type=None, group_id=101, assignee_id=None, requester_id=5, organization_id=None,
                  tags=(), channel="web", created_at=NOW - timedelta(hours=3), updated_at=NOW,
                  comments=tuple(comments))


def customer(i: int, body: str, minutes_ago: int = 0) -> Comment:
    return Comment(id=i, author_id=5, author_role="end-user", body=body, public=True,
                   created_at=NOW - timedelta(minutes=minutes_ago))


@pytest.mark.parametrize("raw", ["I cannot log in \ud800", "\udc00I cannot log in",
                                 "half an emoji \ud83d: I cannot log in"])
def test_lone_surrogate_is_replaced_and_the_text_is_scored(enricher, raw):
    text = clean_text(raw)
    assert "\ufffd" in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)
    text.encode("utf-8")                                   # strict: what spaCy's hashing does
    assert "login" in tags(enricher.score_text(text))


def test_surrogate_pair_is_joined_not_replaced():
    assert clean_text("ok \ud83d\ude00") == "ok \U0001F600"


def test_invalid_utf8_bytes_are_replaced():
    assert clean_text(b"caf\xe9 \xff cannot log in") == "caf\ufffd \ufffd cannot log in"
    assert clean_text("héllo".encode("utf-16")) == "héllo"


def test_nul_inside_a_phrase_no_longer_breaks_the_match(enricher):
    raw = "I can\x00not log in since Monday"
    assert "login" not in tags(enricher.score_text(raw))        # the NUL hides the phrase
    assert clean_text(raw) == "I cannot log in since Monday"
    assert "login" in tags(enricher.score_text(clean_text("I cannot\x00 log\x1b in")))


def test_control_characters_go_but_line_breaks_and_tabs_stay():
    assert clean_text("a\r\nb\rc\x0bd\te\x07f\x7f\x85g\u2028h") == "a\nb\nc\nd\tef\ng\nh"
    assert clean_text("zero\u200bwidth\ufeff soft\u00adhyphen") == "zerowidth softhyphen"
    assert clean_text("family \U0001F468\u200d\U0001F469\u200d\U0001F467") == \
        "family \U0001F468\u200d\U0001F469\u200d\U0001F467"          # ZWJ keeps its emoji


def test_unicode_forms_are_unified():
    decomposed = "Re\u0301siliation du contrat"
    out = clean_text(decomposed)
    assert out == "Résiliation du contrat" and unicodedata.is_normalized("NFC", out)


def test_html_becomes_text_with_its_line_breaks_and_without_scripts(enricher):
    html = ("<html><head><style>p{color:red}</style><title>x</title></head><body>"
            "<p>Dear team,</p><div>I <b>cannot</b> log in<br>since Monday &amp; I am "
            "furious</div><script>alert('x')</script><table><tr><td>a</td><td>b</td></tr>"
            "</table></body></html>")
    text = clean_text(html)
    assert text == "Dear team,\nI cannot log in\nsince Monday & I am furious\na\nb"
    assert "login" in tags(enricher.score_text(text))


def test_plain_text_that_mentions_a_tag_stays_as_written():
    assert clean_text("x < y and y > z") == "x < y and y > z"
    assert clean_text("I typed <br> into the name field") == "I typed <br> into the name field"


@pytest.mark.parametrize("markup", [
    "<div>" * 200_000 + "deep &amp; text" + "</div>" * 200_000,
    "<b><div>x</b>" * 50_000,
    "<script>" + "<ul>" * 100_000,
])
def test_deeply_nested_markup_is_read(markup):
    text = clean_text(markup)
    assert "<" not in text and "script" not in text
    if "deep" in markup:
        assert text == "deep & text"


def test_cleaning_a_ticket_cleans_every_text_and_keeps_the_rest():
    t = ticket([customer(1, "can\x00not log in \ud800"), customer(2, "fine")],
               subject="Sub\x1bject \udfff", description="<p>one</p><p>two</p>")
    c = clean_ticket(t)
    assert (c.subject, c.description) == ("Subject \ufffd", "one\ntwo")
    assert [x.body for x in c.comments] == ["cannot log in \ufffd", "fine"]
    assert c.comments[1] is t.comments[1] and c.updated_at == t.updated_at
    assert clean_ticket(c) is c


def test_thousands_of_comments_keep_the_first_and_the_latest():
    texts = [f"comment {i}" for i in range(3000)]
    kept, note = bound_conversation(texts)
    assert len(kept) == 50 and kept[0] == "comment 0" and kept[-1] == "comment 2999"
    assert kept[1] == "comment 2951"
    assert note == "analysed the first and the last 49 of 3,000 comments"


def test_a_huge_text_keeps_its_start_and_says_so():
    log = "cannot log in, log below\n" + "x" * (10_800_000 - 25)
    kept, note = bound_conversation([log])
    assert len(kept) == 1 and MAX_CHARS - 40 <= len(kept[0]) <= MAX_CHARS
    assert kept[0].startswith("cannot log in")
    assert max(map(len, kept[0].split())) <= MAX_RUN        # a blob is split for the analysis
    assert note == f"analysed the first {len(kept[0]):,} of 10,800,000 characters"


def test_character_budget_keeps_the_latest_whole_and_the_start_of_the_first():
    b = bound_texts(["first " * 10_000, "old" * 100_000, "new " * 40_000], max_chars=200_000)
    assert b.indices == [0, 1, 2]
    assert b.texts[2] == "new " * 40_000                      # the latest whole
    assert sum(map(len, b.texts)) <= 200_000
    assert len(b.texts[0]) >= 20_000 - 200                      # a tenth for the first message
    assert b.note == f"analysed {sum(map(len, b.texts)):,} of 520,000 characters"


def test_within_budget_nothing_changes_and_nothing_is_said():
    assert bound_conversation(["a", "b"]) == (["a", "b"], None)
    assert bound_conversation([]) == ([], None)


def test_bounded_ticket_keeps_every_comment_in_place_and_bounding_twice_says_nothing(enricher):
    comments = [customer(i, f"message {i}: I still cannot log in", 3000 - i) for i in range(3000)]
    t = ticket(comments, subject="S" * 5000)
    bounded, note = bound_ticket(t)
    assert note == ("analysed the first and the last 49 of 3,000 comments and the first 1,000 "
                    "of 5,000 characters of the subject")
    assert len(bounded.comments) == 3000
    assert [c.created_at for c in bounded.comments] == [c.created_at for c in t.comments]
    assert sum(1 for c in bounded.comments if c.body) == 50
    assert bound_ticket(bounded) == (bounded, None)
    enrichment = enricher.enrich(bounded, NOW)
    assert "login" in tags(enrichment)
    assert max(t.comment_index for t in enrichment.risk_tags) == 2999


ROW = "<tr><td>2024-05-06 10:00:00</td><td>ERROR auth failed &amp; gateway 7</td></tr>\n"


def test_only_the_start_of_a_huge_text_is_cleaned_and_the_whole_is_counted(enricher):
    html = "<html><body><p>I cannot log in, log below</p><table>" + ROW * 150_000 + "</table>"
    t = ticket([customer(1, html)], description=html)
    c = clean_ticket(t)
    for text in (c.description, c.comments[0].body):            # HTML parsed on a window only
        assert MAX_CHARS <= len(text) < CLEAN_LIMIT // 10
        assert whole_length(text) == len(html)
        assert text.startswith("I cannot log in, log below\n2024-05-06 10:00:00")
    assert clean_text(html[:MAX_CHARS * 3]).startswith(c.description[:MAX_CHARS])
    for copied in (copy.deepcopy(c), pickle.loads(pickle.dumps(c))):
        assert copied == c and whole_length(copied.description) == len(html)
    bounded, note = bound_ticket(c)
    kept = len(bounded.comments[0].body)
    assert note == f"analysed the first {kept:,} of {len(html):,} characters"
    assert "login" in tags(enricher.enrich(bounded, NOW))
    alone, note = bound_ticket(ticket([], description=c.description))
    assert note == f"analysed the first {len(alone.description):,} of {len(html):,} characters"


def test_a_huge_text_of_bare_markup_is_not_read_whole_but_the_cut_is_said():
    markup = "<div>" * (CLEAN_LIMIT // 4) + "I cannot log in"             # no text in reach
    text = clean_text(markup, CLEAN_LIMIT)
    assert text == "" and whole_length(text) == len(markup)
    b = bound_texts([text, "still broken"])
    assert b.texts == ["still broken"]
    assert b.note == f"analysed the last 1 of 2 comments and 12 of {len(markup) + 12:,} characters"


def test_a_text_within_the_limit_is_cleaned_whole_as_before():
    text = "<p>I cannot log in</p>" + "<div>deep " * 100_000
    assert type(clean_text(text, CLEAN_LIMIT)) is str
    assert clean_text(text, CLEAN_LIMIT) == clean_text(text)


def test_a_repeated_sentence_reads_as_often_as_it_is_said_up_to_the_sentence_budget(enricher):
    from tiergate.nlp.reading import read_conversation

    def hits(body: str):
        t, _ = bound_ticket(ticket([customer(1, body)], description=body))
        return enricher.risk.detect(read_conversation(t, NOW))

    once = hits("My lawyer will contact you.")
    assert once.hits and not once.dropped
    many = hits("My lawyer will contact you. " * 8_000)      # 7,144 sentences within the budget
    assert many.hits == once.hits * (SENTENCES_READ - 1)      # the subject is the first one
    assert many.dropped == [f"read the first {SENTENCES_READ} of 7,144 sentences of comment 0"]


def test_what_the_worker_remembers_between_tickets_is_bounded_by_characters(monkeypatch):
    """Texts read again on every update are remembered, but a pasted log is not, and the
    remembered texts together stay within a character budget, whatever tickets arrive."""
    from tiergate.nlp import enrich, reading

    monkeypatch.setattr(enrich, "CACHE_CHARS", 60_000)
    fresh = Enricher()
    texts = [f"ticket {i}: the export fails again. " * 120 for i in range(40)]   # ~4,600 chars
    fresh.analyse(texts)
    assert 0 < fresh._cached_chars <= 60_000
    assert fresh._cached_chars == sum(map(len, fresh._cache))
    assert len(fresh._cache) < 40 and texts[-1] in fresh._cache and texts[0] not in fresh._cache
    log = "ERROR line of a pasted log 0x7f3a\n" * 1_000                          # 34,000 chars
    fresh.analyse([log])
    assert log not in fresh._cache

    before = reading._own_words_cached.cache_info().currsize
    assert reading.own_words(log + "\nOn Mon, Bob wrote:\n> hi") == log.strip()
    assert reading._own_words_cached.cache_info().currsize == before
    reading.own_words("A short message that is read again. " + str(before))
    assert reading._own_words_cached.cache_info().currsize == before + 1
