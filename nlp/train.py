"""``tiergate train --history FILE.jsonl --out DIR``: the desk's own escalation classifier.

History format (JSON lines, one resolved ticket per line; a backfill from the helpdesk through
the connector produces it)::

    {"text": "I was charged twice and nobody answers", "label": true}
    {"comments": ["Hi, my export fails", "Still broken, third time I ask"], "label": true}
    {"comments": [{"body": "How do I add a user?"}], "label": false}

``label`` is true when the ticket was escalated (moved up a tier / to a functional team),
false otherwise; ``comments`` are the customer's comments oldest first (joined with newlines).
A bad line stops training with an error naming the line number and the field.

The model is a spaCy ``textcat`` (``spacy.TextCatBOW.v3``, unigrams + bigrams, exclusive
ESCALATE / OTHER) on ``spacy.blank("en")``; it is trained here, nothing is downloaded, and the
saved folder loads offline with ``spacy.load``. Point the manifest's ``nlp_model`` (or
``tiergate score --model``) at it; its probability then feeds the attention score as the
``model`` reason. Before the final fit, k-fold cross-validation (stratified, seeded) reports
accuracy, precision, recall, F1 and ROC-AUC at threshold 0.5.

Never train into the package folder on data you may not redistribute (e.g. CC BY-NC sets).
"""
from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from tiergate.nlp import metrics as M
from tiergate.nlp.classifier import NEGATIVE, POSITIVE, TextClassifier, train_textcat
from tiergate.nlp.records import read_history


def folds_for(labels: Sequence[bool], k: int, seed: int) -> list[list[int]]:
    """Stratified fold assignment: indices of each class shuffled and dealt round-robin."""
    rng = random.Random(seed)
    out: list[list[int]] = [[] for _ in range(k)]
    for cls in (True, False):
        idx = [i for i, y in enumerate(labels) if y == cls]
        rng.shuffle(idx)
        for n, i in enumerate(idx):
            out[n % k].append(i)
    return out


def cross_validate(texts: Sequence[str], labels: Sequence[bool], *, k: int = 5, epochs: int = 8,
                   seed: int = 0) -> dict[str, float]:
    """Out-of-fold predictions for every row, then the metrics over all of them."""
    probs = [0.0] * len(texts)
    for fold in folds_for(labels, k, seed):
        held = set(fold)
        tr = [i for i in range(len(texts)) if i not in held]
        nlp = train_textcat([texts[i] for i in tr],
                            [POSITIVE if labels[i] else NEGATIVE for i in tr],
                            epochs=epochs, seed=seed)
        preds = TextClassifier(nlp).predict_positive([texts[i] for i in fold])
        for i, p in zip(fold, preds):
            probs[i] = p
    pred = [p >= 0.5 for p in probs]
    precision, recall, f1 = M.prf(labels, pred)
    majority = M.majority(labels)
    return {"folds": k, "accuracy": round(M.accuracy(labels, pred), 4),
            "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "roc_auc": round(M.roc_auc(labels, probs), 4),
            "majority_accuracy": round(M.accuracy(labels, [majority] * len(labels)), 4)}


def train_from_history(history: str | Path, out: str | Path, *, folds: int = 5, epochs: int = 8,
                       seed: int = 0, log: Callable[[str], None] = lambda s: None
                       ) -> dict[str, Any]:
    """Read, cross-validate, fit on everything, save to ``out``; returns the report."""
    started = time.perf_counter()
    with open(history, encoding="utf-8") as fh:
        texts, labels = read_history(fh)
    n_pos = sum(labels)
    if len(texts) < 4 or n_pos == 0 or n_pos == len(labels):
        raise ValueError(f"{history}: need at least 4 rows with both labels "
                         f"(got {len(texts)} rows, {n_pos} escalated)")
    log(f"history: {len(texts)} tickets, {n_pos} escalated")
    report: dict[str, Any] = {"rows": len(texts), "escalated": n_pos}
    k = min(folds, n_pos, len(labels) - n_pos)
    if k >= 2:
        log(f"cross-validating ({k} folds)")
        report["cv"] = cross_validate(texts, labels, k=k, epochs=epochs, seed=seed)
    nlp = train_textcat(texts, [POSITIVE if y else NEGATIVE for y in labels],
                        epochs=epochs, seed=seed)
    Path(out).mkdir(parents=True, exist_ok=True)
    TextClassifier(nlp).save(out, trained_on=len(texts), escalated=n_pos,
                             cv=report.get("cv"), epochs=epochs, seed=seed)
    report["out"] = str(out)
    report["seconds"] = round(time.perf_counter() - started, 1)
    if "cv" in report:
        cv = report["cv"]
        log(f"{k}-fold CV: accuracy {cv['accuracy']:.3f} (majority {cv['majority_accuracy']:.3f})"
            f", F1 {cv['f1']:.3f}, ROC-AUC {cv['roc_auc']:.3f}")
    log(f"model saved to {out}")
    return report
