"""Fitting the stacked classifier (``tiergate.nlp.stacked``): a small logistic regression
(numpy) over a textcat's probability, a hashed n-gram regression's logit and the rule signals of
the out-of-the-box enricher.

``fit_stacked`` is what ``tiergate train`` fits on a history labelled escalated / not;
``fit_ladder`` what it fits on graded history (``level`` 0..N): one stacked model per level
threshold and a regression over all of their outputs (the "trained" rows of ``tiergate eval``).

Features per text: attention score, lexicon sentiment (and its negative part), the rule complaint
flag, one 0/1 per risk tag, second person ("you", "your"), question / exclamation marks, URLs,
@-mentions, plus the textcat probability and the n-gram regression logit. Those two are
out-of-fold (k-fold inside the training rows) when the regression is fit, so it does not learn
to trust an over-fitted in-sample probability.

Optional embedding column (``embeddings=True``, or by default when ``tiergate[embeddings]`` is
installed): a ridge regression on all-MiniLM-L6-v2's middle-layer features
(``tiergate.nlp.embed.features``, standardised), out-of-fold on the same inner folds, its ridge
chosen by their squared error (``EMB_ALPHA_GRID``); the stacking ridge is then chosen with that
column included.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from tiergate.nlp import embed
from tiergate.nlp import metrics as M
from tiergate.nlp.classifier import (NEGATIVE, POSITIVE, EmbeddingRidge, NgramLR,
                                     TextClassifier, sigmoid, hashed_rows, subset_rows,
                                     train_textcat)
from tiergate.nlp.enrich import Enricher
from tiergate.nlp.stacked import (LadderClassifier, StackedClassifier, model_features,
                                  predict_logistic)

C_GRID = (3.0, 10.0, 30.0)      # n-gram regression: 1 / ridge, chosen by inner CV log-loss
L2_GRID = (0.3, 1.0, 3.0)       # stacking regression ridge, chosen by inner CV log-loss
# embedding column: ridge of the regression on the standardised encoder features (inner CV)
EMB_ALPHA_GRID = (100.0, 300.0, 1000.0, 3000.0, 10000.0, 30000.0)
TEXTCAT_NGRAM = 1               # the n-gram regression carries the bigrams



def folds_for(labels: Sequence[bool | int], k: int, seed: int) -> list[list[int]]:
    """Stratified fold assignment: indices of each class (escalated first, or each level from
    the highest down) shuffled and dealt round-robin."""
    rng = random.Random(seed)
    out: list[list[int]] = [[] for _ in range(k)]
    for cls in sorted(set(labels), reverse=True):
        idx = [i for i, y in enumerate(labels) if y == cls]
        rng.shuffle(idx)
        for n, i in enumerate(idx):
            out[n % k].append(i)
    return out


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


def log_loss(y, p) -> float:
    p = np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    t = np.asarray(y, float)
    return float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))


def choose_l2(X: np.ndarray, y: Sequence[bool], k: int, seed: int,
              grid: Sequence[float] = L2_GRID) -> tuple[float, dict, np.ndarray]:
    """The stacking ridge with the lowest k-fold log-loss over ``X``: (ridge, log-loss per
    ridge, that ridge's out-of-fold probabilities)."""
    losses, probs = {}, {}
    y = np.asarray(y, bool)
    for l2 in grid:
        p = probs[l2] = np.zeros(len(y))
        for fold in folds_for(list(y), k, seed + 1):
            m = np.ones(len(y), bool)
            m[fold] = False
            p[fold] = predict_logistic(fit_logistic(X[m], y[m], l2=l2), X[fold])
        losses[l2] = log_loss(y, p)
    best = min(losses, key=losses.get)
    return best, losses, probs[best]


@dataclass
class Stacked:
    model: StackedClassifier | LadderClassifier
    oof: np.ndarray                   # out-of-fold stacking features of the training rows
    info: dict[str, Any] = field(default_factory=dict)


def use_embeddings(embeddings: bool | None) -> bool:
    """None: on when the embeddings extra is installed; True: required (raises
    ``EmbeddingsUnavailable`` when missing); False: off."""
    if embeddings is None:
        return embed.available()
    if embeddings:
        embed.require()
    return bool(embeddings)


def with_features(texts: Sequence[str], embeddings: bool | None, embedded,
                  log: Callable[[str], None] = lambda s: None) -> tuple[bool, Any]:
    """(embedding column on?, the texts' encoder features): ``use_embeddings(embeddings)``, and
    ``embed.features(texts)`` computed here when on and ``embedded`` was not given."""
    on = use_embeddings(embeddings)
    if on and embedded is None:
        log(f"  embedding {len(texts)} texts")
        embedded = embed.features(texts)
    return on, embedded


def embedding_column(F: np.ndarray, y: np.ndarray, folds,
                     grid: Sequence[float] = EMB_ALPHA_GRID
                     ) -> tuple[np.ndarray, EmbeddingRidge, dict]:
    """Out-of-fold output of a ridge regression on the encoder features ``F`` (``folds``),
    ridge chosen by out-of-fold squared error; returns (oof column, the regression fit on all
    rows, info)."""
    oof = {a: np.zeros(len(y)) for a in grid}
    for fold in folds:
        m = np.ones(len(y), bool)
        m[fold] = False
        for a, reg in EmbeddingRidge.fit_path(F[m], y[m], grid).items():
            oof[a][fold] = reg.decision(F[fold])
    t = np.asarray(y, float)
    errors = {a: float(np.mean((v - t) ** 2)) for a, v in oof.items()}
    best = min(errors, key=errors.get)
    return oof[best], EmbeddingRidge.fit_path(F, y, (best,))[best], {
        "embedding_alpha": best,
        "embedding_alpha_mse": {str(a): round(b, 5) for a, b in errors.items()},
        "oof_embedding_roc_auc": _auc(y, oof[best])}


def fit_stacked(texts: Sequence[str], labels: Sequence[bool], *, k: int = 4, seed: int = 0,
                epochs: int = 8, rules=None, c_grid: Sequence[float] = C_GRID,
                log: Callable[[str], None] = lambda s: None, embeddings: bool | None = None,
                embedded: np.ndarray | None = None) -> Stacked:
    """Textcat + n-gram regression (+ the embedding regression when ``embeddings``, see
    ``use_embeddings``), their out-of-fold outputs (k folds) stacked with the rule signals by a
    ridge logistic regression; every hyper-parameter (n-gram C, embedding ridge, stacking
    ridge) is chosen by cross-validation on these rows only. Final parts are refit on all rows.
    ``embedded``: the texts' encoder features (``embed.features``) when already computed (else
    computed here)."""
    texts = [str(t or "") for t in texts]
    y = np.asarray(labels, bool)
    with_emb, embedded = with_features(texts, embeddings, embedded, log)
    rules = rules or Enricher(None)
    enrichments = rules.score_many([[t] for t in texts], reading=False)
    tags = sorted({t for e in enrichments for t in e.tags})
    rows = hashed_rows(texts)
    k = max(2, min(k, int(y.sum()), int((~y).sum())))
    folds = [np.asarray(f, dtype=np.int64) for f in folds_for(list(y), k, seed)]
    names = [POSITIVE if v else NEGATIVE for v in y]
    tc_oof = np.zeros(len(y))
    lr_oof = {c: np.zeros(len(y)) for c in c_grid}
    for i, fold in enumerate(folds):
        m = np.ones(len(y), bool)
        m[fold] = False
        idx = np.flatnonzero(m)
        log(f"  inner fold {i + 1}/{k}")
        tc = TextClassifier(train_textcat([texts[j] for j in idx], [names[j] for j in idx],
                                          epochs=epochs, seed=seed, ngram=TEXTCAT_NGRAM))
        tc_oof[fold] = tc.predict_positive([texts[j] for j in fold])
        tr_rows, te_rows = subset_rows(rows, idx), subset_rows(rows, fold)
        for c in c_grid:
            lr_oof[c][fold] = NgramLR.fit((), y[idx], C=c, rows=tr_rows).decision(rows=te_rows)
    c_losses = {c: log_loss(y, sigmoid(v)) for c, v in lr_oof.items()}
    best_c = min(c_losses, key=c_losses.get)
    oof = model_features(texts, rules, tags, tc_oof, lr_oof[best_c], enrichments)
    emb_w, emb_info = None, {}
    if with_emb:
        F = np.asarray(embedded, dtype=float)
        if F.shape[0] != len(texts):
            raise ValueError(f"embedded: {F.shape[0]} rows for {len(texts)} texts")
        emb_oof, emb_w, emb_info = embedding_column(F, y, folds)
        oof = np.c_[oof, emb_oof]
    l2, l2_losses, _ = choose_l2(oof, y, k, seed)
    weights = fit_logistic(oof, y, l2=l2)
    textcat = train_textcat(texts, names, epochs=epochs, seed=seed, ngram=TEXTCAT_NGRAM)
    ngram = NgramLR.fit((), y, C=best_c, rows=rows)
    model = StackedClassifier(textcat, POSITIVE, {}, ngram, weights, tags, embedding=emb_w)
    model._rules = rules
    info = {"ngram_C": best_c, "stack_l2": l2, "inner_folds": k,
            "ngram_C_logloss": {str(c): round(v, 4) for c, v in c_losses.items()},
            "stack_l2_logloss": {str(c): round(v, 4) for c, v in l2_losses.items()},
            "oof_textcat_roc_auc": _auc(y, tc_oof), "oof_ngram_roc_auc": _auc(y, lr_oof[best_c]),
            "embeddings": with_emb, **emb_info}
    return Stacked(model, oof, info)


def thresholds_of(levels: Sequence[int]) -> list[int]:
    """The ladder's steps: every distinct level above the lowest one."""
    return sorted({int(v) for v in levels})[1:]


def fit_ladder(texts: Sequence[str], levels: Sequence[int], *, k: int = 4, seed: int = 0,
               epochs: int = 8, rules=None, log: Callable[[str], None] = lambda s: None,
               embeddings: bool | None = None, embedded: np.ndarray | None = None) -> Stacked:
    """Graded history: one ``fit_stacked`` model per threshold t of ``thresholds_of(levels)``
    (label: level >= t), then a ridge logistic regression over the rule signals and every
    step's out-of-fold model columns, fit on the top threshold (ridge by inner-CV log-loss).
    Two levels only (escalated / not): ``fit_stacked`` itself."""
    levels = [int(v) for v in levels]
    steps_at = thresholds_of(levels)
    if not steps_at:
        raise ValueError("levels: need at least two distinct levels")
    texts = [str(t or "") for t in texts]
    rules = rules or Enricher(None)
    embeddings, embedded = with_features(texts, embeddings, embedded, log)
    fits = []
    for t in steps_at:
        if len(steps_at) > 1:
            log(f" level >= {t}")
        fits.append(fit_stacked(texts, [v >= t for v in levels], k=k, seed=seed,
                                epochs=epochs, rules=rules, log=log, embeddings=embeddings,
                                embedded=embedded))
    if len(fits) == 1:
        return fits[0]
    model = LadderClassifier([f.model for f in fits], steps_at, ())
    oof = model.join([f.oof for f in fits])
    y = np.asarray([v >= steps_at[-1] for v in levels])
    l2, losses, oof_p = choose_l2(oof, y, k, seed)
    model.weights = fit_logistic(oof, y, l2=l2)
    info = {"thresholds": steps_at, "ladder_l2": l2,
            "ladder_l2_logloss": {str(c): round(v, 4) for c, v in losses.items()},
            "oof_ladder_roc_auc": _auc(y, oof_p),
            "steps": {f"level>={t}": f.info for t, f in zip(steps_at, fits)}}
    return Stacked(model, oof, info)


def _auc(y, p) -> float:
    return round(M.roc_auc(list(map(bool, y)), list(map(float, p))), 4)
