"""The tone model (``tagmodel.TONE_DATA``): how much a customer's words read like a complaint.
It was trained on the benchmark's written posts only, none of them copied from the shared
labelled data; it fills the complaint points of a text the rules do not read as a complaint,
in English only."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from tiergate.nlp import tagmodel
from tiergate.nlp.enrich import TONE_COMPLAINT, TONE_TIP, Enricher, sentiment_label
from tiergate.nlp.points import WEIGHTS

ROOT = Path(__file__).resolve().parent.parent
POSTS = ROOT / "benchmark" / "posts.jsonl"


def posts() -> list[dict]:
    return [json.loads(line) for line in POSTS.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def test_shipped_tone_model_was_trained_on_the_written_posts():
    model = tagmodel.TagModel.load(tagmodel.TONE_DATA)
    assert model is not None, "nlp/data/tone_model.npz is missing: run " \
                              "scripts/train_tone_model.py"
    assert model.tags == ["complaint"]
    rows = posts()
    assert set(model.trained_on) == {r["id"] for r in rows}
    assert {r["complaint"] for r in rows} == {0, 1}
    assert all(r["severity"] == 0 for r in rows if not r["complaint"])


def test_posts_are_not_copied_from_the_shared_data(shared_data):
    theirs = set()
    for path in (shared_data / "complaints").glob("*.csv"):
        with open(path, encoding="utf-8", newline="") as fh:
            theirs.update(" ".join(row["tweet"].split()).lower() for row in csv.DictReader(fh))
    ours = {" ".join(r["text"].split()).lower() for r in posts()}
    assert len(theirs) > 1000
    assert not ours & theirs


def test_tone_ranks_complaints_above_chatter_it_never_saw():
    model = tagmodel.TagModel.load(tagmodel.TONE_DATA)
    seen = {r["text"] for r in posts()}
    complaints = ["@GreenLineBus driver drove straight past the stop while 6 of us waved",
                  "third replacement kettle from @HomePlusUK and it leaks like the first two",
                  "@PayWiz where did my transfer go?? 4 days and the money is nowhere"]
    chatter = ["what a goal in the last minute, still shaking",
               "@PayWiz thanks, all sorted now, have a good weekend",
               "anyone got a good lasagne recipe for tonight?"]
    assert not (set(complaints) | set(chatter)) & seen
    scores = model.score_matrix(complaints + chatter)[:, 0]
    assert min(scores[:3]) > max(scores[3:])


def test_tone_fills_the_complaint_points_only_where_the_rules_do_not():
    enricher = Enricher(None)
    ruled = enricher.score_text("my parcel from @QuickBoxUK arrived with the box crushed "
                                "and one of the two lamps missing")
    signals = [r.signal for r in ruled.reasons]
    assert ruled.complaint and "complaint" in signals and "tone" not in signals

    # no risk phrase, no negative word: only the tone model reads the complaint
    told = enricher.score_text("@FreshCrate half the bag of apples was mush when it came today")
    reasons = {r.signal: r for r in told.reasons}
    assert not told.complaint and "complaint" not in reasons
    assert 1 <= reasons["tone"].points <= WEIGHTS["complaint"]
    assert sum(r.points for r in told.reasons) == told.attention_score

    calm = enricher.score_text("happy friday everyone, the sun is finally out")
    assert not {"tone", "complaint"} & {r.signal for r in calm.reasons}


def test_tone_reads_english_only():
    enricher = Enricher(None)
    assert enricher.complaint_tone(["the app logs me out every five minutes"], "en") is not None
    assert enricher.complaint_tone(["die App meldet mich ständig ab"], "de") is None
    german = enricher.score_text("Die App meldet mich seit drei Tagen alle fünf Minuten ab.")
    assert "tone" not in {r.signal for r in german.reasons}


def test_a_negative_text_the_tone_model_is_sure_of_is_a_complaint():
    enricher = Enricher(None)
    text = "@BrewBox the beans you sent smell stale, sad"
    scores = enricher.analyse([text], keep=False)
    assert scores[0].sentiment < 0 and not scores[0].context and not scores[0].risks
    unsure = enricher._combine((0,), scores, tone=TONE_COMPLAINT - 0.2)
    sure = enricher._combine((0,), scores, tone=TONE_COMPLAINT)
    assert not unsure.complaint and "tone" in {r.signal for r in unsure.reasons}
    assert sure.complaint and "complaint" in {r.signal for r in sure.reasons}
    assert "tone" not in {r.signal for r in sure.reasons}

    calm = enricher.analyse(["what a lovely sunny morning"], keep=False)
    assert not enricher._combine((0,), calm, tone=0.99).complaint   # not negative


def test_tone_tips_a_not_clearly_positive_text_to_negative():
    assert sentiment_label(0.0, (), tone=TONE_TIP) == "negative"
    assert sentiment_label(0.0, (), tone=TONE_TIP - 0.1) == "neutral"
    assert sentiment_label(0.0) == "neutral"
    assert sentiment_label(0.8, (), tone=0.99) == "positive"
    told = Enricher(None).score_text("@FreshCrate half the bag of apples was mush when it came "
                                     "today")
    assert told.sentiment == 0.0 and told.sentiment_label == "negative"


def test_a_customer_saying_nothing_is_wrong_silences_the_tone_model():
    enricher = Enricher(None)
    text = "@FreshCrate half the bag of apples was mush when it came today"
    assert enricher.complaint_tone([text], "en") >= TONE_TIP
    calm = enricher.score_text("not complaining, just asking: " + text)
    assert "tone" not in {r.signal for r in calm.reasons}
    assert calm.sentiment_label != "negative"
