"""The trained tag reader (``tiergate.nlp.tagmodel``): what it learns, how its hits pass the
reading rules, and that the shipped model was trained on the benchmark's development half
only."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from tiergate.nlp import tagmodel
from tiergate.nlp.reading import read_conversation
from tiergate.nlp.risk import RiskDetector
from tiergate.nlp.risk_rules import load_defaults, merge_config
from tiergate.plugin.core.model import Comment, Ticket

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 3, 15, 0, tzinfo=timezone.utc)

# a made-up word no pattern or example of the shipped rules knows: only a trained reader can
# tie it to a tag
POSITIVE = ["the zorblax console shows a stranger", "a zorblax got into our workspace again",
            "we found a zorblax in the admin list", "zorblax everywhere, please look",
            "our zorblax alarm went off twice tonight", "another zorblax in the audit trail"]
NEGATIVE = ["how do I export a report", "please add a dark mode", "thanks for the quick help",
            "where is my invoice for May", "can we add two seats", "the new layout is nice",
            "what time does support open", "I would like to change my email address",
            "is there an API for tags", "our team loves the calendar view"] * 2


def toy_model(tag: str = "churn") -> tagmodel.TagModel:
    texts = POSITIVE * 3 + NEGATIVE
    labels = [{tag}] * len(POSITIVE) * 3 + [set()] * len(NEGATIVE)
    model, report = tagmodel.train(texts, labels, [tag, "legal"])
    assert report[tag]["positives"] == len(POSITIVE) * 3
    return model


def ticket(*bodies: str) -> Ticket:
    comments = tuple(Comment(id=i, author_id=1, author_role="end-user", body=b, public=True,
                             created_at=NOW - timedelta(hours=len(bodies) - i))
                     for i, b in enumerate(bodies))
    return Ticket(id=1, subject="Help", description=bodies[0], status="open", priority=None,
                  type=None, group_id=None, assignee_id=None, requester_id=1,
                  organization_id=None, tags=(), channel="email",
                  created_at=NOW - timedelta(days=1), updated_at=NOW, comments=comments)


def detector(model, override=None) -> RiskDetector:
    return RiskDetector(merge_config(load_defaults(), override), tag_model=model)


def test_training_learns_a_tag_from_words_no_rule_names():
    model = toy_model()
    scores = model.scores("hello, there is a zorblax in our console")
    assert scores["churn"] > 0.5 > model.scores("please add a dark mode")["churn"]
    assert [t for t, _, _ in model.fired("hello, there is a zorblax in our console")] == ["churn"]
    assert model.fired("please add a dark mode") == []
    assert model.thresholds[model.tags.index("legal")] == 1.0      # no positives: never fires


def test_saved_model_reads_the_same(tmp_path):
    model = toy_model()
    model.save(tmp_path / "m.npz")
    again = tagmodel.TagModel.load(tmp_path / "m.npz")
    text = "zorblax seen in the admin list"
    assert abs(again.scores(text)["churn"] - model.scores(text)["churn"]) < 0.02
    assert tagmodel.TagModel.load(tmp_path / "absent.npz") is None


def test_a_reader_hit_quotes_its_sentence_and_passes_the_reading_rules():
    model = toy_model()
    conv = read_conversation(ticket("Good morning. We found a zorblax in the admin list."), NOW)
    hits = [h for h in detector(model).detect(conv).hits if h.tag == "churn"]
    assert hits and hits[0].how == "model" and "zorblax" in hits[0].sentence
    # as a state tag, the same words reported as past and fixed do not count
    past = read_conversation(ticket("Last week we found a zorblax in the admin list; it was "
                                    "fixed yesterday."), NOW)
    assert [h for h in detector(model).detect(past).hits if h.how == "model"]
    state = detector(model, {"churn": {"state": True}}).detect(past)
    assert not [h for h in state.hits if h.how == "model"]
    assert any("reported fixed or past" in d for d in state.dropped)
    # a tag the manifest keeps away from the reader
    off = detector(model, {"churn": {"model": False}}).detect(conv)
    assert not [h for h in off.hits if h.how == "model"]


def test_shipped_model_was_trained_on_the_development_half_only():
    model = tagmodel.TagModel.load()
    assert model is not None, "nlp/data/tag_model.npz is missing: run scripts/train_tag_model.py"
    ids = lambda name: {json.loads(line)["external_id"] for line in  # noqa: E731
                        (ROOT / "benchmark" / name).read_text(encoding="utf-8").splitlines()
                        if line.strip()}
    assert set(model.trained_on) == ids("tickets-dev.jsonl")
    assert not set(model.trained_on) & ids("tickets-heldout.jsonl")
    assert np.all((model.thresholds > 0) & (model.thresholds <= 1))


def test_the_reader_vetoes_a_pattern_hit_it_reads_nothing_of():
    """``reader_veto``: a security pattern in a sentence about fonts yields to the reader."""
    text = ("Hello, the font on every quote we send out looks like a ransom note. Our brand "
            "font has been the same for six years and the exports keep falling back to Arial. "
            "How do I set our brand font as the default for PDF exports, and does the setting "
            "also apply to invoices? Thanks, Sandra")
    conv = read_conversation(ticket(text), NOW)
    vetoed = RiskDetector.from_config({"security": {"reader_veto": 0.05,
                                                    "unless": {"en": []}}}).detect(conv)
    assert "security" not in vetoed.tags()
    assert any("tag reader scores" in d for d in vetoed.dropped)
    kept = RiskDetector.from_config({"security": {"reader_veto": None,
                                                  "unless": {"en": []}}}).detect(conv)
    assert "security" in kept.tags()


def test_a_short_message_is_never_overruled_by_the_reader():
    """Under ``VETO_WORDS`` words the reader has too little to read: the pattern stands."""
    conv = read_conversation(ticket("Charged twice again. Refund the $40 or I call my lawyer."), NOW)
    found = RiskDetector.from_config({"legal": {"reader_veto": 0.99}}).detect(conv)
    assert "legal" in found.tags()


@pytest.mark.parametrize("tag,guess,yielded,why", [
    # the customer says nothing is wrong
    ("churn", "We found a zorblax in the admin list.", "We found a zorblax in the admin list. "
     "Not complaining, it's just for our continuity plan.", "says nothing is wrong"),
    # a near miss elsewhere in the message
    ("churn", "We found a zorblax in the admin list.", "We found a zorblax in the admin list. "
     "We're very happy with the service.", "near miss"),
    # a privacy pattern names what the reader took for security
    ("security", "We found a zorblax in the admin list.", "We found a zorblax in the admin "
     "list. The PDF that opened is not mine.", "reads it as privacy"),
    # a state tag needs a report, not a question
    ("outage", "Our whole team sees a zorblax in the admin list.",
     "Our whole team sees a zorblax in the admin list?", "a question is no report")])
def test_a_reader_guess_yields_to_what_the_message_says(tag, guess, yielded, why):
    model = toy_model(tag)
    alone = detector(model).detect(read_conversation(ticket(guess), NOW))
    assert [h for h in alone.hits if h.how == "model" and h.tag == tag]
    found = detector(model).detect(read_conversation(ticket(yielded), NOW))
    assert not [h for h in found.hits if h.how == "model"]
    assert any(why in d for d in found.dropped), found.dropped
