"""Enricher: negation and hedging, conversation signals, reasons adding up, amounts."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiergate.nlp.amounts import find_amounts
from tiergate.nlp.enrich import Enricher
from tiergate.plugin.core.model import Comment, Enrichment, Organization, Ticket

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)


_ENRICHER = Enricher(None)


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return _ENRICHER


def tags(en: Enrichment) -> set[str]:
    return set(en.tags)


def comment(i, role, body, hours_ago, public=True):
    return Comment(id=i, author_id=1 if role == "end-user" else 2, author_role=role, body=body,
                   public=public, created_at=NOW - timedelta(hours=hours_ago))


def ticket(comments, org=None, **kw) -> Ticket:
    base = dict(id=7, subject="Help", description=comments[0].body if comments else "",
                status="open", priority=None, type=None, group_id=None, assignee_id=None,
                requester_id=1, organization_id=None, tags=(), channel="web",
                created_at=NOW - timedelta(days=2), updated_at=NOW, comments=tuple(comments),
                organization=org)
    base.update(kw)
    return Ticket(**base)


@pytest.mark.parametrize("text,tag,present", [
    ("This is not an outage, just a question about invoices.", "outage", False),
    ("The site is no longer down, thanks.", "outage", False),
    ("There is no outage on our side.", "outage", False),
    ("Your service is down again and we have an outage.", "outage", True),
    ("If this isn't fixed I'll cancel.", "cancel_request", True),
    ("If this isn't fixed by Friday we will take legal action.", "legal", True),
    ("Please cancel my order 1234.", "churn", False),
    ("I will cancel my order then.", "churn", False),
    ("I want to cancel my subscription.", "cancel_request", True),
    ("If I cancel my subscription, do I get a refund?", "cancel_request", False),
    ("I'm not going to sue you, relax.", "legal", False),
    ("I CANNOT log in since this morning", "login", True),
    ("I can't log in", "login", True),
    ("I do not want to speak to a manager, just fix it", "human_request", False),
    ("Could I talk to a real person please?", "human_request", True),
    ("i need help talkiing with someone", "human_request", True),
    ("How do I call customer service?", "human_request", False),
    ("My account was hacked!", "security", True),
    ("I was charged twice, refund please", "billing", True),
    ("What is your refund policy?", "billing", False),
    # accusation / blame addressed to the company (Severity 3-4 phrasing)
    ("You lied to me about the price.", "accusation", True),
    ("Your agent hung up on me twice.", "accusation", True),
    ("They refused to replace it and clearly don't care about customers.", "accusation", True),
    ("I was ripped off.", "accusation", True),
    ("Thanks, you were a great help.", "accusation", False),
    # irony: praise words around a failure
    ("Thanks for nothing.", "sarcasm", True),
    ("Thank you for ignoring my emails for a week.", "sarcasm", True),
    ("Love how the app logs me out every hour.", "sarcasm", True),
    ("Thanks for the quick fix!", "sarcasm", False),
    # product safety
    ("The charger is unsafe, it caught fire on my desk.", "safety", True),
    ("Is it safe to update the firmware?", "safety", False),
    # disapproval, repeated failure, problem report without a reproach
    ("Not impressed with the support so far.", "complaint", True),
    ("It keeps failing at the payment step.", "complaint", True),
    ("I am unable to change my address.", "problem", True),
    ("How do I change my address?", "problem", False),
    # boycott phrasing is a churn signal
    ("Never again, I'm done with you.", "churn", True),
])
def test_tags_with_negation_hedging_and_reproach_families(enricher, text, tag, present):
    en = enricher.score_text(text)
    assert (tag in tags(en)) is present, (text, en.risk_tags)


def test_risk_tag_carries_phrase_and_comment_index(enricher):
    en = enricher.score_comments(["Hello there", "ok I will contact my lawyer"])
    legal = [r for r in en.risk_tags if r.tag == "legal"]
    assert legal and "lawyer" in legal[0].phrase.lower() and legal[0].comment_index == 1


def test_conversation_trend_and_comment_sentiments(enricher):
    t = ticket([
        comment(1, "end-user", "Hi, could you help me export my invoices? Thanks!", 30),
        comment(2, "agent", "Sure, looking into it.", 29),
        comment(3, "end-user", "This is terrible. Still broken and nobody answers. Awful.", 2),
    ])
    en = enricher.enrich(t, NOW)
    assert len(en.comment_sentiments) == 2
    assert en.comment_sentiments[0] > 0 > en.comment_sentiments[1]
    assert en.sentiment_shift < -0.4
    assert "trend" in {r.signal for r in en.reasons}
    assert en.sentiment_label == "negative"


def test_response_delay_repeat_contacts_and_value(enricher):
    org = Organization(id=3, name="Acme", segment="enterprise", account_value=150000.0,
                       renewal_at=NOW + timedelta(days=20))
    t = ticket([
        comment(1, "end-user", "Our export fails.", 50),
        comment(2, "agent", "Checking.", 49),
        comment(3, "end-user", "Any news?", 30),
        comment(4, "end-user", "Hello?", 26),
        comment(5, "end-user", "Anyone?", 25),
    ], org=org)
    en = enricher.enrich(t, NOW)
    signals = {r.signal: r for r in en.reasons}
    assert signals["response_delay"].points == 16      # waiting 30 h
    assert signals["repeat_contact"].points == 10      # two follow-ups without an answer
    assert signals["customer_value"].points == 15      # capped
    answered = ticket([comment(1, "end-user", "Our export fails.", 50),
                       comment(2, "agent", "Fixed now.", 1)], org=org)
    assert "response_delay" not in {r.signal for r in enricher.enrich(answered, NOW).reasons}


@pytest.mark.parametrize("texts", [
    ["hello"],
    ["I was charged twice!!! Refund of $250 now or I call my lawyer and cancel my account. "
     "This is the THIRD TIME. UNACCEPTABLE. I want to speak to a manager. Security breach too, "
     "the site is down, outage everywhere."],
    ["thanks a lot, great service"],
    ["Hi", "still waiting", "this is ridiculous, I will cancel"],
])
def test_reasons_sum_to_score(enricher, texts):
    en = enricher.score_comments(texts)
    assert 0 <= en.attention_score <= 100
    assert sum(r.points for r in en.reasons) == en.attention_score


def test_reasons_sum_to_score_on_full_ticket(enricher):
    org = Organization(id=3, name="Big", segment="vip", account_value=500000.0)
    t = ticket([comment(1, "end-user", "URGENT!!! outage, lawyer, hacked, cancel my account, "
                                        "speak to a manager, third time, charged twice", 100)],
               org=org)
    en = enricher.enrich(t, NOW)
    assert en.attention_score >= 90
    assert sum(r.points for r in en.reasons) == en.attention_score
    raw = sum(r.points for r in en.reasons if r.signal != "cap")
    assert (raw > 100) == any(r.signal == "cap" for r in en.reasons)


@pytest.mark.parametrize("text,expected", [
    ("I want a refund of $250", {"refund": 250.0}),
    ("please refund 1,200.50 USD", {"refund": 1200.5}),
    ("a 20 EUR credit would be fair", {"credit": 20.0}),
    ("Can I get $15 off?", {"discount": 15.0}),
    ("give me 20 euros off the renewal", {"discount": 20.0}),
    ("The full $756 came off the company card on the 1st.", {}),     # a charge, no discount
    ("The full £756 came off the company card on the 1st.", {}),
    ("I paid $99. Refund please.", {"refund": 99.0}),
    ("refund me, the ticket is 4411", {}),
    ("no money mentioned", {}),
    ("Café owner here: I want a REFUND of €30", {"refund": 30.0}),
    ("a diſcount of $20 please", {"discount": 20.0}),       # long s: matched, never a crash
])
def test_amounts(text, expected):
    assert find_amounts(text) == expected


def test_amounts_in_enrichment(enricher):
    en = enricher.score_text("Give me a refund of $250 and a $20 credit")
    assert en.amounts == {"refund": 250.0, "credit": 20.0}


def test_from_manifest_object_and_dict():
    class FakeManifest:
        keywords = {"vip_words": ("golden ticket",)}
        nlp_model = None

    en = Enricher.from_manifest(FakeManifest()).score_text("I hold the Golden Tickets")
    assert "vip_words" in en.tags
    en = Enricher.from_manifest({"keywords": {"x": ["foo bar"]}}).score_text("foo bar")
    assert "x" in en.tags


def test_round_trip_json(enricher):
    en = enricher.score_text("I was charged twice, refund of $10 please")
    assert Enrichment.from_dict(en.to_dict()) == en



@pytest.mark.parametrize("text,present", [
    ("I need a human, not a bot.", True),
    ("Can I have a word with a supervisor?", True),
    ("Please put me through to an agent.", True),
    ("I'd like to chat with a real person.", True),
    ("I do not need an agent, just the invoice.", False),
    ("How do I reset my password?", False),
])
def test_human_request_frames(enricher, text, present):
    assert ("human_request" in enricher.score_text(text).tags) is present


def test_complaint_needs_a_cue_or_a_service_matter(enricher):
    # banter addressed to someone is negative but not a complaint ...
    assert not enricher.score_text("You're an idiot and your jokes are lame.").complaint
    # ... a negative message about a service matter is, and so is an explicit cue
    assert enricher.score_text("My order arrived smashed, awful.").complaint
    assert enricher.score_text("The app has a bug that wipes my notes.").complaint


def test_severity_ordering_of_the_attention_score(enricher):
    plain = enricher.score_text("The export shows an error.")
    disapproval = enricher.score_text("The export shows an error. Not impressed.")
    accusation = enricher.score_text("The export shows an error and you lied to me about the fix.")
    assert plain.complaint and disapproval.complaint and accusation.complaint
    assert plain.attention_score < disapproval.attention_score < accusation.attention_score


def test_sarcasm_reads_negative(enricher):
    en = enricher.score_text("Great job, thanks for ruining my weekend!")
    assert en.sentiment_label == "negative" and en.complaint


_CASED = "aAbBzZ '’-.!?$1\n"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["CANNOT", "I'M", "IM", "Ok", "AB", "A", "b", "x-Y", "U.S.",
                                 "(NO)", "don't", "DONT", "wHAT", "Ä", "é"]) |
                st.text(alphabet=_CASED, max_size=6), max_size=12).map("".join) |
       st.text(alphabet=_CASED, max_size=40))
def test_compiled_scan_knows_exactly_when_a_text_has_two_capitals_in_a_row(text):
    """The scan's answer from word forms and token spacing equals a regex over the text (the
    shouting count is skipped on its word)."""
    import re

    from tiergate.nlp.pipeline import SIGNALS_KEY

    doc = _ENRICHER.nlp(text)
    assert doc.user_data[SIGNALS_KEY].caps_pair == bool(re.search("[A-Z][A-Z]", text)), text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789,. $k", max_size=30) |
       st.text(alphabet="0123456789٢٥,.", max_size=20))
def test_number_scan_ascii_fast_path_matches_the_unicode_one(text):
    from tiergate.nlp.amounts import _ASCII, _NUMBER, _find_amounts

    spans = [m.span() for m in _NUMBER.finditer(text)]
    if text.isascii():   # ASCII goes through the compiled finder: same numbers, same amounts
        asked = "refund " + text
        assert list(_ASCII(asked.lower()).items()) == list(_find_amounts(asked).items())
    # the number forms: 1,234.5 | 1234.5 | 12 (digits of any script)
    for a, b in spans:
        float(text[a:b].replace(",", ""))


def test_shouting_counts_capital_words(enricher):
    loud = enricher.score_text("WHY IS MY ORDER STILL NOT HERE, THIS IS A JOKE")
    calm = enricher.score_text("Why is my order still not here, this is a joke")
    assert "intensity:caps" in {r.signal for r in loud.reasons}
    assert "intensity:caps" not in {r.signal for r in calm.reasons}


def test_two_capitals_split_across_tokens_still_count():
    """A tokenizer exception that splits "QAnon" into "Q" + "Anon" leaves no capital pair in
    either token; the text still has one."""
    from tiergate.nlp.pipeline import SIGNALS_KEY

    fresh = Enricher(None)
    fresh.nlp.tokenizer.add_special_case("QAnon", [{"ORTH": "Q"}, {"ORTH": "Anon"}])
    doc = fresh.nlp("QAnon again")
    assert [t.text for t in doc][:2] == ["Q", "Anon"]
    assert doc.user_data[SIGNALS_KEY].caps_pair
    assert not fresh.nlp("Q Anon again").user_data[SIGNALS_KEY].caps_pair


_MONEY_PIECES = ["$", "€", "us", "d", "USD", "eur", "o", "dollar", "Pound", "buck", "cad", "10",
                 "5k", " ", "-", "'", ".", "n't", "do", "refund", "of", "EUR", "£", "x"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_MONEY_PIECES), max_size=14).map("".join))
def test_compiled_scan_never_misses_a_currency_hint(text):
    """The scan may say "maybe" (then find_amounts looks), but "no hint" must be true: a text it
    clears has no currency sign or word, so skipping find_amounts cannot lose an amount."""
    from tiergate.nlp.amounts import MONEY_HINTS
    from tiergate.nlp.pipeline import SIGNALS_KEY

    doc = _ENRICHER.nlp(text)
    has = any(h in text.lower() for h in MONEY_HINTS)
    assert doc.user_data[SIGNALS_KEY].money_hint or not has, text


def test_phrase_trie_matches_like_spacys_phrase_matcher():
    """Every (tag, start, end) spaCy's PhraseMatcher finds on NORM, and no other, on texts built
    from the keyword phrases themselves (overlaps, shared prefixes, repeats, case, contractions)."""
    import random

    from spacy.matcher import PhraseMatcher

    nlp = _ENRICHER.nlp
    signals = nlp.get_pipe("tiergate_signals")
    reference = PhraseMatcher(nlp.vocab, attr="NORM")
    for tag, phrases in signals.patterns.items():
        reference.add(tag, [nlp.make_doc(p) for p in phrases])
    phrases = [p for ps in signals.patterns.values() for p in ps]
    rng = random.Random(4)
    fillers = ["the", "not", "I", "can't", "REFUND", "!!", "and", "to", "speak", "manager"]
    for _ in range(400):
        words = [rng.choice(phrases) if rng.random() < 0.5 else rng.choice(fillers)
                 for _ in range(rng.randrange(1, 9))]
        text = " ".join(w.upper() if rng.random() < 0.2 else w for w in words)
        doc = nlp.make_doc(text)
        expected = sorted((nlp.vocab.strings[m], s, e) for m, s, e in reference(doc))
        assert sorted(signals.trie(doc)) == expected, text


_AMOUNT_PIECES = ["refund", "refunded", "money back", "chargeback", "charge back", "discount",
                  "off", "credit", "voucher", "compensation", "goodwill", "$", "usd", "USD", "eur",
                  "euro", "dollars", "pound", "bucks", "k", "20", "250", "1,200", "1,2345",
                  "12,345,678.9", ".5", "3.", ",", ".", " ", "  ", "\t", "\x1c", "_", "x", "of",
                  "pay", "back", "re", "fund", "s", "-", "(", "'", " " * 10,
                  "lorem ipsum dolor sit"]


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(_AMOUNT_PIECES), max_size=20).map("".join))
def test_compiled_amounts_equal_the_regular_expressions(text):
    """ASCII text goes through the compiled amount finder; it must find exactly what the
    regular-expression version (which serves all other text) finds, in the same order."""
    from tiergate.nlp.amounts import _ASCII, _find_amounts

    assert list(_ASCII(text.lower()).items()) == list(_find_amounts(text).items()), text


@pytest.mark.parametrize("text, runs", [
    ("All fixed.\n\nThanks a lot.\nMaria", 0),        # a full stop before a new paragraph
    ("Great!\n\nSee you", 0),
    ("Why is it still broken??", 1),
    ("What?! Again!!!", 3),
])
def test_punctuation_runs_are_only_repeated_question_and_exclamation_marks(enricher, text, runs):
    assert enricher.analyse([text])[0].punct_runs == runs
    shown = any(r.signal == "intensity:punctuation" for r in enricher.score_text(text).reasons)
    assert shown == (runs > 0)
