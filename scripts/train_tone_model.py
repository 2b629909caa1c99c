"""Train the shipped tone model (``tiergate.nlp.tagmodel.TONE_DATA``): how much a customer's
words read like a complaint, one logistic regression over the tag reader's hashed n-grams.

    python scripts/train_tone_model.py           # prints the cross-validated figures

Reads ``benchmark/posts.jsonl``: short public posts to companies and everyday chatter, written
for this purpose and labelled complaint or not (a complaint says reality falls short of what the
writer expected of a product, service or organisation, whether it reproaches anyone or not).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from tiergate.nlp import tagmodel

ROOT = Path(__file__).resolve().parents[1]
POSTS = ROOT / "benchmark" / "posts.jsonl"


def main() -> int:
    rows = [json.loads(line) for line in POSTS.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    texts = [r["text"] for r in rows]
    labels = [{"complaint"} if r["complaint"] else set() for r in rows]
    model, report = tagmodel.train(texts, labels, ("complaint",), ids=[r["id"] for r in rows],
                                   precision=0.8)
    print("\n".join(tagmodel.save_and_report(model, report, tagmodel.TONE_DATA)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
