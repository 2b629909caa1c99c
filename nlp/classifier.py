"""A trained spaCy text classifier (``textcat`` with ``spacy.TextCatBOW.v3``) and its metadata.

A saved model is a plain spaCy pipeline folder (``spacy.blank("en")`` + ``textcat``, no custom
components, so ``spacy.load`` works offline) plus ``tiergate.json``:
``{"positive_label": "ESCALATE", "labels": [...], "trained_on": N, "cv": {...}}``.
"""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Sequence

META = "tiergate.json"
POSITIVE = "ESCALATE"
NEGATIVE = "OTHER"


def _config(exclusive: bool, ngram: int = 2) -> dict:
    arch = {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": exclusive,
            "ngram_size": ngram, "no_output_layer": False, "length": 262144}
    return {"model": arch, "threshold": 0.5}


def train_textcat(texts: Sequence[str], labels: Sequence[str], *, epochs: int = 8,
                  seed: int = 0, dropout: float = 0.1, batch: int = 32,
                  ngram: int = 2):
    """A fresh ``spacy.blank("en")`` + exclusive ``textcat`` trained on (texts, label names)."""
    import spacy
    from spacy.training import Example
    from spacy.util import fix_random_seed, minibatch

    fix_random_seed(seed)
    names = sorted(set(labels))
    nlp = spacy.blank("en")
    textcat = nlp.add_pipe("textcat", config=_config(True, ngram))
    for name in names:
        textcat.add_label(name)
    docs = list(nlp.tokenizer.pipe(texts, batch_size=512))
    examples = [Example.from_dict(d, {"cats": {n: float(n == y) for n in names}})
                for d, y in zip(docs, labels)]
    optimizer = nlp.initialize(lambda: examples[:500])
    rng = random.Random(seed)
    order = list(range(len(examples)))
    for _ in range(epochs):
        rng.shuffle(order)
        for chunk in minibatch([examples[i] for i in order], size=batch):
            nlp.update(chunk, sgd=optimizer, drop=dropout)
    return nlp


class TextClassifier:
    """Wraps a trained pipeline: ``predict_positive(texts)``, ``predict_cats(texts)``."""

    def __init__(self, nlp, positive: str = POSITIVE, meta: dict | None = None):
        self.nlp = nlp
        self.positive = positive
        self.meta = meta or {}

    @classmethod
    def load(cls, path: str | Path) -> "TextClassifier":
        import spacy

        path = Path(path)
        meta = {}
        if (path / META).exists():
            meta = json.loads((path / META).read_text(encoding="utf-8"))
        nlp = spacy.load(path)
        return cls(nlp, meta.get("positive_label", POSITIVE), meta)

    def save(self, path: str | Path, **meta) -> None:
        path = Path(path)
        self.nlp.to_disk(path)
        self.meta = {"positive_label": self.positive,
                     "labels": list(self.nlp.get_pipe("textcat").labels), **meta}
        (path / META).write_text(json.dumps(self.meta, indent=2), encoding="utf-8")

    def predict_cats(self, texts: Sequence[str], batch_size: int = 512) -> list[dict[str, float]]:
        return [dict(d.cats) for d in self.nlp.pipe(texts, batch_size=batch_size)]

    def predict_positive(self, texts: Sequence[str]) -> list[float]:
        return [float(c.get(self.positive, 0.0)) for c in self.predict_cats(texts)]
