"""Train the shipped tag reader (``tiergate.nlp.tagmodel``) and write ``nlp/data/tag_model.npz``.

    python scripts/train_tag_model.py            # prints the cross-validated figures per tag

Reads the development half of the benchmark (``benchmark/tickets-dev.jsonl``: each ticket's
live customer words as the detector reads them, labelled with its expected tags; each sentence
of a ticket that should not escalate is also a negative on its own, so that short everyday
sentences do not read as risk) and the example sentences and near-miss negatives of
``nlp/default_risk.json``. The held-back half is never read.
"""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from tiergate.nlp import tagmodel
from tiergate.nlp.reading import read_conversation
from tiergate.plugin.core.sentences import sentences
from tiergate.nlp.risk import MESSAGES_READ
from tiergate.nlp.risk_rules import flat_phrases, load_defaults
from tiergate.plugin.simulate import ticket_from_example

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "benchmark" / "tickets-dev.jsonl"
NOW = datetime(2026, 12, 3, 10, tzinfo=timezone.utc)
# human_request and abuse are read well by their patterns; a reader for them fires on short
# everyday requests ("help me cancel order 123") far more often than it finds new ones
TAGS = ("security", "privacy", "billing", "legal", "churn", "outage")
PRECISION = 0.90            # per tag, in cross-validation
MIN_SENTENCE = 16           # characters: shorter sentences of calm tickets teach nothing


def live_words(row: dict, ticket_id: int) -> str:
    """The latest customer messages as read (quotes, signatures and agent text removed)."""
    conv = read_conversation(ticket_from_example(row, NOW, ticket_id), NOW)
    return "\n".join(m.text for m in conv.customer[-MESSAGES_READ:])


def main() -> int:
    texts, labels, fixed, ids = [], [], [], []
    for i, line in enumerate(DEV.read_text(encoding="utf-8").splitlines()):
        if line.strip():
            row = json.loads(line)
            words = live_words(row, i + 1)
            texts.append(words)
            labels.append(set(row["label"]["tags"]) & set(TAGS))
            fixed.append(False)
            ids.append(row["external_id"])
            if not row["label"]["escalate"] and not row["label"]["tags"]:
                for sentence in sentences(words):
                    if len(sentence) >= MIN_SENTENCE:
                        texts.append(sentence), labels.append(set()), fixed.append(True)
    for tag, spec in load_defaults()["tags"].items():
        for sentence in flat_phrases(spec.get("examples")):
            texts.append(sentence), labels.append({tag} & set(TAGS)), fixed.append(True)
        for sentence in flat_phrases(spec.get("negatives")):
            texts.append(sentence), labels.append(set()), fixed.append(True)
    model, report = tagmodel.train(texts, labels, TAGS, fixed=fixed, ids=ids,
                                   precision=PRECISION)
    print("\n".join(tagmodel.save_and_report(model, report, tagmodel.DATA)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
