"""The mood model: the conversation's sentiment label (negative / neutral / positive) for English,
one softmax regression over what the rules already read (lexicon sentiment, problem tags,
complaint, emphasis, blame, question, thanks) and the static sentence vector of the customer's
latest words (``tiergate.nlp.semantic.StaticEncoder``), shipped as ``nlp/data/mood_model.npz``.

The lexicon alone reads "any update on my bag? day 4" as calm and "DM'd you my ref, thanks" as
glad; the regression weighs the rules' signals against what the words are about. It reads texts
of the length it learnt from (``MAX_CHARS``); a longer conversation keeps the rules' label.

Trained by ``scripts/train_mood_model.py`` on ``benchmark/posts.jsonl`` (short public posts
to companies, labelled by sentiment; a post that is a complaint counts as negative).

    model = MoodModel.load()
    model.label("neutral", sentiment, tags, complaint, scores, text)   # "negative"
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Collection, Sequence

import numpy as np

from tiergate.nlp.classifier import lbfgs
from tiergate.nlp.points import COMPLAINT_TAGS
from tiergate.nlp.semantic import StaticEncoder
from tiergate.nlp.tagmodel import load_cached
from tiergate.nlp.textscore import TextScore

DATA = Path(__file__).with_name("data") / "mood_model.npz"
LABELS = ("negative", "neutral", "positive")
MAX_CHARS = 300             # longer than the posts it learnt from: the rules' label stands
L2 = 30.0                   # weight penalty, in units of one training row
_THANKS = re.compile(r"\b(?:thank|thanks|thx|ty|cheers|appreciated?)\b", re.IGNORECASE)


def signals(rules_label: str, sentiment: float, tags: Collection[str], complaint: bool,
            scores: Sequence[TextScore], text: str) -> list[float]:
    """The rule readings the regression weighs (the rules' own label among them), each scaled
    to about 0..1."""
    exclaims = sum(s.exclaims for s in scores)
    caps = sum(s.caps_words for s in scores)
    blame = sum(s.blame for s in scores)
    context = sum(s.context for s in scores)
    words = sum(s.words for s in scores)
    return [float(rules_label == "negative"), float(rules_label == "neutral"),
            float(rules_label == "positive"), sentiment, max(sentiment, 0.0), min(sentiment, 0.0),
            float(not COMPLAINT_TAGS.isdisjoint(tags)), float("sarcasm" in tags),
            float(bool(tags)), float(complaint), min(exclaims, 3) / 3, min(caps, 5) / 5,
            min(blame, 3) / 3, min(context, 3) / 3,
            float(any(s.second_person for s in scores)), math.log1p(words) / 4,
            float("?" in text), float(bool(_THANKS.search(text)))]


def matrix(rows: Sequence[list[float]], texts: Sequence[str]) -> np.ndarray:
    """Signals beside the static sentence vectors, one row per text."""
    vectors = StaticEncoder.load().encode(list(texts))
    return np.hstack([np.asarray(rows, dtype=np.float32).reshape(len(texts), -1), vectors])


class MoodModel:
    def __init__(self, W, b, trained_on: Sequence[str] = ()):
        self.W = np.asarray(W, dtype=np.float32)
        self.b = np.asarray(b, dtype=np.float32)
        self.trained_on = list(trained_on)

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        z = X @ self.W + self.b
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def label(self, rules_label: str, sentiment: float, tags: Collection[str], complaint: bool,
              scores: Sequence[TextScore], text: str) -> str:
        """The label it reads; ``rules_label`` for a text longer than ``MAX_CHARS``."""
        if len(text) > MAX_CHARS:
            return rules_label
        X = matrix([signals(rules_label, sentiment, tags, complaint, scores, text)], [text])
        return LABELS[int(np.argmax(X @ self.W + self.b))]

    @classmethod
    def fit(cls, X: np.ndarray, labels: Sequence[str], *, l2: float = L2,
            trained_on: Sequence[str] = ()) -> "MoodModel":
        """Multinomial logistic regression: mean cross-entropy + l2 / (2 n) * |W|^2."""
        X = np.asarray(X, dtype=np.float64)
        n, k = X.shape
        Y = np.eye(len(LABELS))[[LABELS.index(y) for y in labels]]

        def f(theta):
            W, b = theta[:-3].reshape(k, 3), theta[-3:]
            z = X @ W + b
            z -= z.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            P = np.exp(logp)
            loss = -(Y * logp).sum() / n + l2 * (W * W).sum() / (2 * n)
            gW = X.T @ (P - Y) / n + l2 * W / n
            return loss, np.concatenate([gW.ravel(), (P - Y).mean(axis=0)])

        theta = lbfgs(f, np.zeros(k * 3 + 3), iters=500)
        return cls(theta[:-3].reshape(k, 3), theta[-3:], trained_on)

    # -- storage ------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path = DATA) -> "MoodModel | None":
        """The shipped model (cached per process), or None when the file is absent."""
        return load_cached(path, cls._read)

    @classmethod
    def _read(cls, path: Path) -> "MoodModel":
        with np.load(path, allow_pickle=False) as z:
            return cls(z["W"], z["b"], [str(t) for t in z["trained_on"]])

    def save(self, path: str | Path = DATA) -> None:
        np.savez_compressed(path, W=self.W, b=self.b, trained_on=np.array(self.trained_on))
