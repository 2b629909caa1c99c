"""Train the shipped mood model (``tiergate.nlp.mood.DATA``): the sentiment label of English
conversations, a softmax regression over the rules' readings and the static sentence vector.

    python scripts/train_mood_model.py           # prints the cross-validated accuracy

Reads ``benchmark/posts.jsonl``: short public posts to companies and everyday chatter, written
for this purpose and labelled negative / neutral / positive. A post that is a complaint (reality
falls short of what the writer expected) counts as negative, however it is worded.
"""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from tiergate.nlp import mood
from tiergate.nlp.enrich import Enricher

ROOT = Path(__file__).resolve().parents[1]
POSTS = ROOT / "benchmark" / "posts.jsonl"
FOLDS = 5


def label_of(post: dict) -> str:
    return "negative" if post["complaint"] else post["sentiment"]


def main() -> int:
    rows = [json.loads(line) for line in POSTS.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    texts = [r["text"] for r in rows]
    labels = [label_of(r) for r in rows]
    rules = Enricher(None)
    rules.mood = None               # the labels the rules give alone, for comparison
    read = rules.score_many([[t] for t in texts])
    scores = rules.analyse(texts, keep=False)
    X = mood.matrix([mood.signals(e.sentiment_label, e.sentiment, {t.tag for t in e.risk_tags},
                                  e.complaint, [s], t)
                     for e, s, t in zip(read, scores, texts)], texts)
    order = list(range(len(rows)))
    random.Random(0).shuffle(order)
    right = 0
    for k in range(FOLDS):
        held = set(order[k::FOLDS])
        train = [i for i in order if i not in held]
        part = mood.MoodModel.fit(X[train], [labels[i] for i in train])
        got = part.probabilities(X[sorted(held)]).argmax(axis=1)
        right += sum(mood.LABELS[g] == labels[i] for g, i in zip(got, sorted(held)))
    rules_right = sum(e.sentiment_label == y for e, y in zip(read, labels))
    model = mood.MoodModel.fit(X, labels, trained_on=[r["id"] for r in rows])
    model.save(mood.DATA)
    print(f"{len(rows)} posts; cross-validated accuracy {right / len(rows):.3f} "
          f"(the rules alone: {rules_right / len(rows):.3f})")
    print(f"wrote {mood.DATA.name} ({mood.DATA.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
