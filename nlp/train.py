"""``tiergate train --history FILE.jsonl --out DIR``: the desk's own escalation classifier.

History format (JSON lines, one resolved ticket per line; a backfill from the helpdesk through
the connector produces it)::

    {"text": "I was charged twice and nobody answers", "label": true}
    {"comments": ["Hi, my export fails", "Still broken, third time I ask"], "label": true}
    {"comments": [{"body": "How do I add a user?"}], "label": false}

``label`` is true when the ticket was escalated (moved up a tier / to a functional team),
false otherwise; ``comments`` are the customer's comments oldest first (joined with newlines).
A bad line stops training with an error naming the line number and the field.

The model (``tiergate.nlp.stack.fit_stacked``) is a spaCy ``textcat`` (``spacy.TextCatBOW.v3``,
unigrams, exclusive ESCALATE / OTHER, on ``spacy.blank("en")``) next to a numpy logistic regression over
hashed word 1-2-grams and character 2-5-grams, stacked with the out-of-the-box rule signals by a
ridge logistic regression fit on their out-of-fold outputs (inner folds); the n-gram ridge and
the stacking ridge are chosen by inner cross-validation. Everything is trained here, nothing is
downloaded; the folder loads offline (``spacy.load`` for the textcat, numpy files for the rest;
``TextClassifier.load`` returns the stacked model). Point the manifest's ``nlp_model`` (or
``tiergate score --model``) at it; its probability then feeds the attention score as the
``model`` reason. Before the final fit, k-fold cross-validation (stratified, seeded; the whole
procedure, inner folds included, is repeated in each outer fold) reports accuracy, precision,
recall, F1 and ROC-AUC at threshold 0.5, and the same for the textcat alone.

With ``tiergate[embeddings]`` installed (``embeddings=None``, the default), the stack gets one
more column: the out-of-fold logit of a ridge logistic regression on all-MiniLM-L6-v2 sentence
embeddings (``tiergate.nlp.embed``, numpy, offline); ``embeddings=False`` leaves it out,
``True`` requires it. Each text is embedded once (CV and final fit share the vectors).

Never train into the package folder on data you may not redistribute (e.g. CC BY-NC sets).
"""
from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from tiergate.nlp import metrics as M
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


def _report(labels: Sequence[bool], probs: Sequence[float], k: int) -> dict[str, float]:
    pred = [p >= 0.5 for p in probs]
    precision, recall, f1 = M.prf(labels, pred)
    majority = M.majority(labels)
    return {"folds": k, "accuracy": round(M.accuracy(labels, pred), 4),
            "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "roc_auc": round(M.roc_auc(labels, probs), 4),
            "majority_accuracy": round(M.accuracy(labels, [majority] * len(labels)), 4)}


def cross_validate(texts: Sequence[str], labels: Sequence[bool], *, k: int = 5, epochs: int = 8,
                   seed: int = 0, log: Callable[[str], None] = lambda s: None, rules=None,
                   embeddings: bool | None = None, embedded=None) -> dict[str, Any]:
    """Out-of-fold predictions of the stacked model (refit from scratch, inner folds included,
    in each outer fold) for every row, then the metrics over all of them; ``textcat`` = the same
    for the textcat part alone (its probability inside the stacked model). ``rules``: the
    out-of-the-box Enricher whose signals are stacked (built here when not given);
    ``embeddings`` / ``embedded`` as ``fit_stacked``'s (the rows' vectors, computed once)."""
    from tiergate.nlp.enrich import Enricher
    from tiergate.nlp.stack import fit_stacked, use_embeddings

    rules = rules or Enricher(None)
    embeddings = use_embeddings(embeddings)
    if embeddings and embedded is None:
        from tiergate.nlp import embed

        embedded = embed.features(texts)
    probs = [0.0] * len(texts)
    tc_probs = [0.0] * len(texts)
    for n, fold in enumerate(folds_for(labels, k, seed)):
        log(f"outer fold {n + 1}/{k}")
        held = set(fold)
        tr = [i for i in range(len(texts)) if i not in held]
        fit = fit_stacked([texts[i] for i in tr], [labels[i] for i in tr], epochs=epochs,
                          seed=seed, rules=rules, embeddings=embeddings,
                          embedded=embedded[tr] if embeddings else None)
        held_texts = [texts[i] for i in fold]
        for i, p, q in zip(fold, fit.model.predict_positive(held_texts),
                           fit.model.textcat_positive(held_texts)):
            probs[i], tc_probs[i] = p, q
    out: dict[str, Any] = _report(labels, probs, k)
    out["textcat"] = _report(labels, tc_probs, k)
    return out


def train_from_history(history: str | Path, out: str | Path, *, folds: int = 5, epochs: int = 8,
                       seed: int = 0, log: Callable[[str], None] = lambda s: None,
                       embeddings: bool | None = None) -> dict[str, Any]:
    """Read, cross-validate, fit on everything, save to ``out``; returns the report.
    ``embeddings``: None = the embedding column when ``tiergate[embeddings]`` is installed."""
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
    from tiergate.nlp import embed
    from tiergate.nlp.enrich import Enricher
    from tiergate.nlp.stack import fit_stacked, use_embeddings

    embeddings = use_embeddings(embeddings)
    report["embeddings"] = embeddings
    embedded = None
    if embeddings:
        t0 = time.perf_counter()
        embedded = embed.features(texts)
        log(f"embeddings: on ({embed.MODEL_NAME}; {len(texts)} texts embedded in "
            f"{time.perf_counter() - t0:.1f} s)")
    else:
        log("embeddings: off" + ("" if embed.available() else
                                 f" (not installed: {embed.INSTALL})"))
    rules = Enricher(None)      # one pipeline for the CV and the final fit
    if k >= 2:
        log(f"cross-validating ({k} folds)")
        report["cv"] = cross_validate(texts, labels, k=k, epochs=epochs, seed=seed, log=log,
                                      rules=rules, embeddings=embeddings, embedded=embedded)
    log("final fit on all rows")
    fit = fit_stacked(texts, labels, epochs=epochs, seed=seed, rules=rules,
                      embeddings=embeddings, embedded=embedded)
    Path(out).mkdir(parents=True, exist_ok=True)
    fit.model.save(out, trained_on=len(texts), escalated=n_pos, cv=report.get("cv"),
                   epochs=epochs, seed=seed, **fit.info)
    report["model"] = {"kind": "stacked", **fit.info}
    report["out"] = str(out)
    report["seconds"] = round(time.perf_counter() - started, 1)
    if "cv" in report:
        cv = report["cv"]
        log(f"{k}-fold CV: accuracy {cv['accuracy']:.3f} (majority {cv['majority_accuracy']:.3f})"
            f", F1 {cv['f1']:.3f}, ROC-AUC {cv['roc_auc']:.3f}; textcat alone: accuracy "
            f"{cv['textcat']['accuracy']:.3f}, ROC-AUC {cv['textcat']['roc_auc']:.3f}")
    log(f"model saved to {out}")
    return report
