"""The models ``tiergate train`` saves and what they compute when they predict: a stacked model
(``StackedClassifier``: a logistic regression over the rule signals of the out-of-the-box
enricher, a textcat's probability, a hashed n-gram regression's logit and, optionally, an
embedding regression's output), a ladder of them for graded history (``LadderClassifier``), and
``load``, which reads any saved model folder (see ``tiergate.nlp.classifier`` for the files).

The rule signals come from an ``Enricher`` without a model; a model gets the factory that builds
it (``make_rules``) from whoever loads it (``tiergate.nlp.enrich.load_model``), so this module
needs nothing from the enricher.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import spacy

from tiergate.nlp import embed
from tiergate.nlp.classifier import (EMBED_FILE, LADDER_FILE, META, MENTION_RE, NEGATIVE,
                                     NGRAM_FILE, OLD_EMBED_FILE, POSITIVE, STACK_FILE,
                                     EmbeddingRidge, NgramLR, TextClassifier, read_meta)
from tiergate.plugin.core.errors import ConfigError

_YOU = re.compile(r"\byou(?:r|'re|rs)?\b", re.I)
_URL = re.compile(r"https?://", re.I)


RULE_SIGNALS = ("attention", "sentiment", "negative_sentiment", "complaint", "second_person",
                "question", "exclaim", "url", "mentions")   # then one 0/1 per tag


def rule_features(texts: Sequence[str], enrichments, tags: Sequence[str]) -> np.ndarray:
    """One row per text: ``RULE_SIGNALS``, then one 0/1 per tag of ``tags``."""
    rows = []
    for text, e in zip(texts, enrichments):
        f = [e.attention_score / 100.0, e.sentiment, min(e.sentiment, 0.0), float(e.complaint),
             float(bool(_YOU.search(text))), float("?" in text), float("!" in text),
             float(bool(_URL.search(text))), len(MENTION_RE.findall(text)) / 3.0]
        f += [float(t in e.tags) for t in tags]
        rows.append(f)
    return np.asarray(rows, dtype=float)


def predict_logistic(w: np.ndarray, X: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(np.c_[X, np.ones(len(X))] @ w)))


def model_features(texts: Sequence[str], rules, tags: Sequence[str], textcat_probs,
                   ngram_logits, enrichments=None) -> np.ndarray:
    """Stacking features of ``StackedClassifier``: rule signals (``rules`` = an Enricher without
    a model; ``enrichments``: its results for ``texts`` when already scored) + textcat
    probability + n-gram regression logit."""
    if enrichments is None:
        enrichments = rules.score_many([[t] for t in texts], reading=False)
    return np.c_[rule_features(texts, enrichments, tags), np.asarray(textcat_probs, float),
                 np.asarray(ngram_logits, float)]



class StackedClassifier(TextClassifier):
    """``tiergate train``'s model: a logistic regression (``stack.npy``) over the rule signals of
    the out-of-the-box enricher (default keywords, built inside the model), the textcat's
    probability, the n-gram regression's logit (``ngram.npz``) and, when ``embedding`` is set,
    the output of the ridge regression on the encoder features (``embed.npz``). Same interface
    as ``TextClassifier``; ``predict_positive`` returns the stacked probability."""

    def __init__(self, nlp, positive: str, meta: dict, ngram: NgramLR, weights, tags,
                 embedding: EmbeddingRidge | None = None,
                 make_rules: Callable[[], Any] | None = None):
        super().__init__(nlp, positive, meta)
        self.ngram = ngram
        self.weights = np.asarray(weights, dtype=float)
        self.tags = list(tags)
        self.embedding = embedding
        self.make_rules = make_rules
        self._rules = None

    def rules(self):
        """The out-of-the-box enricher whose signals are stacked, built on first use by
        ``make_rules``."""
        if self._rules is None:
            if self.make_rules is None:
                raise ConfigError("stacked model: no rule enricher (load it with "
                                  "tiergate.nlp.enrich.load_model)")
            self._rules = self.make_rules()
        return self._rules

    def features(self, texts: Sequence[str]) -> np.ndarray:
        texts = [str(t or "") for t in texts]
        tc = self.textcat_positive(texts)
        x = model_features(texts, self.rules(), self.tags, tc, self.ngram.decision(texts))
        if self.embedding is not None:
            x = np.c_[x, self.embedding.decision(embed.features(texts))]
        return x

    def predict_positive(self, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        return [float(p) for p in predict_logistic(self.weights, self.features(texts))]

    def predict_cats(self, texts: Sequence[str], batch_size: int = 512) -> list[dict[str, float]]:
        neg = next((lb for lb in self.meta.get("labels", []) if lb != self.positive), NEGATIVE)
        return [{self.positive: p, neg: 1.0 - p} for p in self.predict_positive(texts)]

    def save(self, path: str | Path, **meta) -> None:
        path = Path(path)
        if self.embedding is not None:
            meta = {"embedding_model": embed.MODEL_NAME,
                    "embedding_layers": list(embed.FEATURE_LAYERS), **meta}
        super().save(path, kind="stacked", tags=self.tags, **meta)
        self.ngram.save(path / NGRAM_FILE)
        np.save(path / STACK_FILE, self.weights)
        for old in (OLD_EMBED_FILE, EMBED_FILE):    # an older model saved into the same folder
            if (path / old).exists():
                (path / old).unlink()
        if self.embedding is not None:
            self.embedding.save(path / EMBED_FILE)

    @classmethod
    def from_folder(cls, nlp, positive: str, meta: dict, path: Path,
                    make_rules: Callable[[], Any] | None = None) -> "StackedClassifier":
        if (path / OLD_EMBED_FILE).exists():
            raise ConfigError(
                f"{path}: {OLD_EMBED_FILE} is the sentence-embedding column of an older tiergate; "
                "retrain the model with `tiergate train`")
        embedding = None
        if (path / EMBED_FILE).exists():
            try:
                embed.require()
            except embed.EmbeddingsUnavailable as exc:
                raise embed.EmbeddingsUnavailable(
                    f"{path}: this model uses sentence embeddings ({EMBED_FILE}); {exc}") from None
            embedding = EmbeddingRidge.load(path / EMBED_FILE)
            layers = tuple(meta.get("embedding_layers", ()))
            if layers != embed.FEATURE_LAYERS:
                raise ConfigError(
                    f"{path}: embedding_layers {list(layers)} in {META}; this tiergate reads "
                    f"{list(embed.FEATURE_LAYERS)}; retrain the model with `tiergate train`")
        return cls(nlp, positive, meta, NgramLR.load(path / NGRAM_FILE),
                   np.load(path / STACK_FILE), meta.get("tags", []), embedding, make_rules)


class LadderClassifier:
    """A model of graded history (``tiergate train`` with ``level`` 0..N): one
    ``StackedClassifier`` per threshold (``steps[i]`` answers "level >= thresholds[i]"), and a
    logistic regression (``ladder.npy``) over the rule signals once and every step's model
    columns (textcat probability, n-gram logit, embedding output), fit on the top threshold.
    ``predict_positive`` = the probability of reaching the top level; ``steps[0]`` is the
    "escalated at all" model."""

    def __init__(self, steps: Sequence[StackedClassifier], thresholds: Sequence[int], weights,
                 meta: dict | None = None):
        self.steps = list(steps)
        self.thresholds = [int(t) for t in thresholds]
        self.weights = np.asarray(weights, dtype=float)
        self.meta = meta or {}
        tags = {tuple(s.tags) for s in self.steps}
        if len(tags) != 1 or len(self.steps) != len(self.thresholds):
            raise ConfigError("ladder: every step must share the rule tags, one per threshold")

    @property
    def rule_width(self) -> int:
        return len(RULE_SIGNALS) + len(self.steps[0].tags)

    def join(self, step_features: Sequence[np.ndarray]) -> np.ndarray:
        """The ladder's columns from each step's own features (rule part taken once)."""
        r = self.rule_width
        return np.c_[step_features[0], *[x[:, r:] for x in step_features[1:]]]

    def predict_positive(self, texts: Sequence[str]) -> list[float]:
        return self.predict_steps(texts)[0]

    def predict_steps(self, texts: Sequence[str]) -> tuple[list[float], list[list[float]]]:
        """(the probability of the top level, each step's own probability), every step's
        features computed once."""
        if not texts:
            return [], [[] for _ in self.steps]
        rules = self.steps[0].rules()
        for step in self.steps[1:]:
            step._rules = rules         # one spaCy pipeline for all steps
        feats = [s.features(texts) for s in self.steps]
        top = predict_logistic(self.weights, self.join(feats))
        return ([float(p) for p in top],
                [[float(p) for p in predict_logistic(s.weights, x)]
                 for s, x in zip(self.steps, feats)])

    def textcat_positive(self, texts: Sequence[str]) -> list[float]:
        """The top step's textcat probability alone."""
        return self.steps[-1].textcat_positive(texts)

    def save(self, path: str | Path, **meta) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for t, step in zip(self.thresholds, self.steps):
            step.save(path / f"level{t}", threshold=t)
        np.save(path / LADDER_FILE, self.weights)
        self.meta = {"kind": "ladder", "thresholds": self.thresholds,
                     "positive_label": POSITIVE, **meta}
        (path / META).write_text(json.dumps(self.meta, indent=2), encoding="utf-8")

    @classmethod
    def from_folder(cls, meta: dict, path: Path,
                    make_rules: Callable[[], Any] | None = None) -> "LadderClassifier":
        thresholds = meta.get("thresholds") or []
        missing = [f"level{t}" for t in thresholds if not (path / f"level{t}" / META).exists()]
        if not thresholds or missing or not (path / LADDER_FILE).exists():
            raise ConfigError(f"{path}: incomplete ladder model (missing "
                              f"{', '.join(missing) or LADDER_FILE}); retrain with "
                              "`tiergate train`")
        steps = [load(path / f"level{t}", make_rules) for t in thresholds]
        return cls(steps, thresholds, np.load(path / LADDER_FILE), meta)


def load(path: str | Path, make_rules: Callable[[], Any] | None = None
         ) -> TextClassifier | LadderClassifier:
    """The model saved in ``path``: a ladder, a stacked model (their rule signals from the
    enricher ``make_rules`` builds) or a plain textcat."""
    path = Path(path)
    meta = read_meta(path)
    if meta.get("kind") == "ladder":
        return LadderClassifier.from_folder(meta, path, make_rules)
    if meta.get("kind") == "stacked":
        return StackedClassifier.from_folder(spacy.load(path), meta.get("positive_label", POSITIVE),
                                             meta, path, make_rules)
    return TextClassifier.load(path)
