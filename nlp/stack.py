"""A stacked classifier: a small logistic regression (numpy) over a textcat's probability and
the rule signals of the out-of-the-box enricher.

Features per text: attention score, lexicon sentiment (and its negative part), the rule complaint
flag, one 0/1 per risk tag, second person ("you", "your"), question / exclamation marks, URLs,
@-mentions, plus the out-of-fold probabilities of the textcat models given. The textcat
probabilities used to fit the regression are out-of-fold (k-fold inside the training rows), so
the regression does not learn to trust an over-fitted in-sample probability.
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from tiergate.nlp.classifier import NEGATIVE, POSITIVE, TextClassifier, train_textcat

_YOU = re.compile(r"\byou(?:r|'re|rs)?\b", re.I)
_URL = re.compile(r"https?://", re.I)
_AT = re.compile(r"@\w+")


def rule_features(texts: Sequence[str], enrichments, tags: Sequence[str]) -> np.ndarray:
    rows = []
    for text, e in zip(texts, enrichments):
        f = [e.attention_score / 100.0, e.sentiment, min(e.sentiment, 0.0), float(e.complaint),
             float(bool(_YOU.search(text))), float("?" in text), float("!" in text),
             float(bool(_URL.search(text))), len(_AT.findall(text)) / 3.0]
        f += [float(t in e.tags) for t in tags]
        rows.append(f)
    return np.asarray(rows, dtype=float)


def out_of_fold(texts: Sequence[str], labels: Sequence[bool], *, k: int = 4, ngram: int = 1,
                seed: int = 0) -> tuple[np.ndarray, TextClassifier]:
    """Out-of-fold textcat probabilities for every training row, and the model fit on all."""
    from tiergate.nlp.train import folds_for

    probs = np.zeros(len(texts))
    for fold in folds_for(labels, k, seed):
        held = set(fold)
        idx = [i for i in range(len(texts)) if i not in held]
        model = TextClassifier(train_textcat(
            [texts[i] for i in idx], [POSITIVE if labels[i] else NEGATIVE for i in idx],
            ngram=ngram, seed=seed))
        probs[fold] = model.predict_positive([texts[i] for i in fold])
    full = TextClassifier(train_textcat(texts, [POSITIVE if y else NEGATIVE for y in labels],
                                        ngram=ngram, seed=seed))
    return probs, full


def fit_logistic(X: np.ndarray, y: Sequence[bool], l2: float = 1.0, iters: int = 50
                 ) -> np.ndarray:
    """L2-regularised logistic regression by Newton steps; last weight is the intercept."""
    X = np.c_[X, np.ones(len(X))]
    t = np.asarray(y, dtype=float)
    w = np.zeros(X.shape[1])
    reg = np.eye(len(w)) * l2
    reg[-1, -1] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-X @ w))
        g = X.T @ (p - t) + reg @ w
        H = (X.T * (p * (1 - p))) @ X + reg + np.eye(len(w)) * 1e-9
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def predict_logistic(w: np.ndarray, X: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(np.c_[X, np.ones(len(X))] @ w)))
