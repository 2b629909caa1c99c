"""The mood model (``tiergate.nlp.mood``): the sentiment label of English conversations, trained
on the benchmark's written posts only, none of them copied from the shared labelled data."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tiergate.nlp import mood
from tiergate.nlp.enrich import Enricher

ROOT = Path(__file__).resolve().parent.parent
POSTS = ROOT / "benchmark" / "posts.jsonl"


@pytest.fixture(scope="module")
def readers() -> tuple[Enricher, Enricher]:
    """(the enricher as shipped, the same without the mood model: the rules' labels)."""
    rules = Enricher(None)
    rules.mood = None
    return Enricher(None), rules


def test_shipped_mood_model_was_trained_on_the_written_posts():
    model = mood.MoodModel.load()
    assert model is not None, "nlp/data/mood_model.npz is missing: run " \
                              "scripts/train_mood_model.py"
    ids = [json.loads(line)["id"] for line in POSTS.read_text(encoding="utf-8").splitlines()
           if line.strip()]
    assert sorted(model.trained_on) == sorted(ids)
    assert model.W.shape[1] == len(mood.LABELS) and np.isfinite(model.W).all()


def test_posts_are_not_copied_from_the_airline_tweets(shared_data):
    with open(shared_data / "airline_sentiment" / "airline_dev.csv", encoding="utf-8",
              newline="") as fh:
        theirs = {" ".join(row["text"].split()).lower() for row in csv.DictReader(fh)}
    ours = {" ".join(json.loads(line)["text"].split()).lower()
            for line in POSTS.read_text(encoding="utf-8").splitlines() if line.strip()}
    assert len(theirs) > 10_000
    assert not ours & theirs


@pytest.mark.parametrize("text", [
    "@BlueFinAir hi! does the lounge in Tromsø accept priority pass? thank you",
    "@BlueFinAir how do I get a receipt for the extra bag fee? thanks in advance",
    "@BlueFinAir is wifi free on the A320s?",
])
def test_a_courteous_question_is_neutral_where_the_lexicon_reads_it_glad(readers, text):
    shipped, rules = readers
    assert rules.score_text(text).sentiment_label == "positive"
    assert shipped.score_text(text).sentiment_label == "neutral"


@pytest.mark.parametrize("text, label", [
    ("@BlueFinAir crew on BF210 this morning were lovely, made my kid's day", "positive"),
    ("@BlueFinAir third email and still no reply about my refund", "negative"),
    ("@BlueFinAir what's the baggage allowance for infants?", "neutral"),
    ("Great job, thanks for ruining my weekend!", "negative"),      # irony: the sarcasm tag
])
def test_plain_moods_keep_their_label(readers, text, label):
    assert readers[0].score_text(text).sentiment_label == label


def test_mood_reads_english_only(readers):
    shipped, rules = readers
    for text in ("Danke! Gibt es im Zug nach Bergen WLAN?",
                 "¿Hay wifi gratis en los vuelos a Oslo? gracias"):
        assert shipped.score_text(text).sentiment_label == rules.score_text(text).sentiment_label


def test_a_conversation_longer_than_the_posts_keeps_the_rules_label(readers):
    shipped, rules = readers
    question = ("Hi! Quick one before our trip: is wifi free on the A320s, and can I pay for a "
                "second bag at the airport or only online?")
    assert shipped.score_text(question).sentiment_label == "neutral"
    assert rules.score_text(question).sentiment_label == "positive"
    long = " ".join([question] * 3)
    assert len(long) > mood.MAX_CHARS
    e = rules.score_text(long)
    X = mood.matrix([mood.signals(e.sentiment_label, e.sentiment, set(e.tags), e.complaint,
                                  rules.analyse([long]), long)], [long])
    assert mood.LABELS[int(np.argmax(X @ shipped.mood.W + shipped.mood.b))] == "neutral"
    assert shipped.score_text(long).sentiment_label == "positive"


def test_fit_learns_the_labels_it_is_given():
    rng = np.random.default_rng(7)
    centres = np.eye(3, 8) * 4
    y = rng.integers(0, 3, 300)
    X = centres[y] + rng.normal(size=(300, 8))
    model = mood.MoodModel.fit(X, [mood.LABELS[i] for i in y], l2=1.0)
    assert (model.probabilities(X).argmax(axis=1) == y).mean() > 0.95
    P = model.probabilities(X[:5])
    assert np.allclose(P.sum(axis=1), 1.0)
