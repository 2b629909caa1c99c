"""``tiergate train --history FILE.jsonl --out DIR``: the desk's own escalation classifier.

History format (JSON lines, one resolved ticket per line; ``tiergate backfill --history FILE``
writes it from the helpdesk through the connector)::

    {"text": "I was charged twice and nobody answers", "label": true}
    {"comments": ["Hi, my export fails", "Still broken, third time I ask"], "level": 2}
    {"comments": [{"body": "How do I add a user?"}], "label": false}

``label`` is true when the ticket was escalated (moved up a tier / to a functional team),
false otherwise; or ``level`` says how far: 0 not escalated, 1 escalated, 2 to management, ...
(``nlp.records``). ``comments`` are the customer's comments oldest first (joined with
newlines). A bad line stops training with an error naming the line number and the field.

The model (``tiergate.nlp.stack``) is, per level threshold, a spaCy ``textcat``
(``spacy.TextCatBOW.v3``, unigrams, exclusive ESCALATE / OTHER, on ``spacy.blank("en")``) next to a
numpy logistic regression over hashed word 1-2-grams and character 2-5-grams, stacked with the
out-of-the-box rule signals by a ridge logistic regression fit on their out-of-fold outputs
(inner folds); with graded history one more regression over every step's outputs answers "will
it reach the top level" (``fit_ladder``). Ridges are chosen by inner cross-validation.
Everything is trained here, nothing is downloaded; the folder loads offline
(``tiergate.nlp.enrich.load_model``). Point the manifest's ``nlp_model`` (or ``tiergate score
--model``) at it; its probability then leads the text part of the attention score (the ``model``
reason).
Before the final fit, k-fold cross-validation (stratified, seeded; the whole procedure, inner
folds included, is repeated in each outer fold) reports accuracy, precision, recall, F1 and
ROC-AUC at threshold 0.5 against the top level, the same for the textcat alone, and each
step's own figures.

With ``tiergate[embeddings]`` installed (``embeddings=None``, the default), each stack gets one
more column: the out-of-fold output of a ridge regression on all-MiniLM-L6-v2's middle-layer
features (``tiergate.nlp.embed``, numpy, offline); ``embeddings=False`` leaves it out,
``True`` requires it. Each text is embedded once (CV and final fit share the vectors).

Never train into the package folder on data you may not redistribute (e.g. CC BY-NC sets).
"""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Sequence

from tiergate.nlp import embed
from tiergate.nlp import metrics as M
from tiergate.nlp.enrich import Enricher
from tiergate.nlp.records import read_labelled
from tiergate.nlp.stack import (fit_ladder, folds_for, thresholds_of, use_embeddings,
                                with_features)


def _report(labels: Sequence[bool], probs: Sequence[float], k: int) -> dict[str, float]:
    pred = [p >= 0.5 for p in probs]
    precision, recall, f1 = M.prf(labels, pred)
    majority = M.majority(labels)
    return {"folds": k, "accuracy": round(M.accuracy(labels, pred), 4),
            "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "roc_auc": round(M.roc_auc(labels, probs), 4),
            "majority_accuracy": round(M.accuracy(labels, [majority] * len(labels)), 4)}


def cross_validate(texts: Sequence[str], levels: Sequence[int], *, k: int = 5, epochs: int = 8,
                   seed: int = 0, log: Callable[[str], None] = lambda s: None, rules=None,
                   embeddings: bool | None = None, embedded=None) -> dict[str, Any]:
    """Out-of-fold predictions of the model ``fit_ladder`` makes (refit from scratch, inner
    folds included, in each outer fold) for every row, then the metrics over all of them,
    against the top level (escalated / not for two levels); ``textcat`` = the same for the top
    step's textcat alone; for graded history also ``steps``: each step's own probability
    against its threshold. ``rules``: the out-of-the-box Enricher whose signals are stacked
    (built here when not given); ``embeddings`` / ``embedded`` as ``fit_stacked``'s (the rows'
    vectors, computed once)."""
    levels = [int(v) for v in levels]
    steps_at = thresholds_of(levels)
    rules = rules or Enricher(None)
    embeddings, embedded = with_features(texts, embeddings, embedded)
    probs = [0.0] * len(texts)
    tc_probs = [0.0] * len(texts)
    step_probs = [[0.0] * len(texts) for _ in steps_at]
    for n, fold in enumerate(folds_for(levels, k, seed)):
        log(f"outer fold {n + 1}/{k}")
        held = set(fold)
        tr = [i for i in range(len(texts)) if i not in held]
        fit = fit_ladder([texts[i] for i in tr], [levels[i] for i in tr], epochs=epochs,
                         seed=seed, rules=rules, embeddings=embeddings,
                         embedded=embedded[tr] if embeddings else None)
        held_texts = [texts[i] for i in fold]
        if len(steps_at) > 1:
            top, per_step = fit.model.predict_steps(held_texts)
        else:
            top, per_step = fit.model.predict_positive(held_texts), []
        for i, p, q in zip(fold, top, fit.model.textcat_positive(held_texts)):
            probs[i], tc_probs[i] = p, q
        for j, ps in enumerate(per_step):
            for i, p in zip(fold, ps):
                step_probs[j][i] = p
    top = [v >= steps_at[-1] for v in levels]
    out: dict[str, Any] = _report(top, probs, k)
    out["textcat"] = _report(top, tc_probs, k)
    if len(steps_at) > 1:
        out["steps"] = {f"level>={t}": _report([v >= t for v in levels], ps, k)
                        for t, ps in zip(steps_at, step_probs)}
    return out


def train_from_history(history: str | Path, out: str | Path, *, folds: int = 5, epochs: int = 8,
                       seed: int = 0, log: Callable[[str], None] = lambda s: None,
                       embeddings: bool | None = None,
                       relabel: Callable[[Any, int], int | None] | None = None) -> dict[str, Any]:
    """Read, cross-validate, fit on everything, save to ``out``; returns the report.
    ``embeddings``: None = the embedding column when ``tiergate[embeddings]`` is installed.
    ``relabel(id, level)``: a reviewer's level for a history row, else None (``records.read_labelled``)."""
    started = time.perf_counter()
    with open(history, encoding="utf-8") as fh:
        rows = read_labelled(fh, relabel)
    texts, levels = rows.texts, rows.levels
    steps_at = thresholds_of(levels)
    lowest = min(levels, default=0)
    n_pos = sum(v > lowest for v in levels)
    n_top = sum(v >= steps_at[-1] for v in levels) if steps_at else 0
    counts = ", ".join(f"{v}: {c}" for v, c in sorted(Counter(levels).items()))
    small = [t for t in steps_at if not 2 <= sum(v >= t for v in levels) <= len(levels) - 2]
    if len(texts) < 4 or not steps_at or small:
        raise ValueError(f"{history}: need at least 4 rows and, for every level, 2 rows at or "
                         f"above it and 2 below (got {len(texts)} rows; rows per level: "
                         f"{counts or 'none'})")
    log(f"history: {len(texts)} tickets, {n_pos} escalated"
        + (f" (rows per level: {counts})" if len(steps_at) > 1 else ""))
    report: dict[str, Any] = {"rows": len(texts), "escalated": n_pos}
    if relabel is not None:
        changed = sum(1 for i, was in rows.relabelled.items() if levels[i] != was)
        report["verdicts"] = {"used": len(rows.relabelled), "changed": changed}
        log(f"review verdicts: {len(rows.relabelled)} used as labels ({changed} changed a history label)")
    if len(steps_at) > 1:
        report["levels"] = {str(v): c for v, c in sorted(Counter(levels).items())}
    k = min(folds, n_top, len(levels) - n_top)
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
        report["cv"] = cross_validate(texts, levels, k=k, epochs=epochs, seed=seed, log=log,
                                      rules=rules, embeddings=embeddings, embedded=embedded)
    log("final fit on all rows")
    fit = fit_ladder(texts, levels, epochs=epochs, seed=seed, rules=rules,
                     embeddings=embeddings, embedded=embedded)
    Path(out).mkdir(parents=True, exist_ok=True)
    fit.model.save(out, trained_on=len(texts), escalated=n_pos, cv=report.get("cv"),
                   epochs=epochs, seed=seed, **fit.info)
    report["model"] = {"kind": fit.model.meta.get("kind", "stacked"), **fit.info}
    report["out"] = str(out)
    report["seconds"] = round(time.perf_counter() - started, 1)
    if "cv" in report:
        cv = report["cv"]
        what = f"level >= {steps_at[-1]}: " if len(steps_at) > 1 else ""
        log(f"{k}-fold CV, {what}accuracy {cv['accuracy']:.3f} (majority "
            f"{cv['majority_accuracy']:.3f}), F1 {cv['f1']:.3f}, ROC-AUC {cv['roc_auc']:.3f}; "
            f"textcat alone: accuracy {cv['textcat']['accuracy']:.3f}, ROC-AUC "
            f"{cv['textcat']['roc_auc']:.3f}")
        for name, step in cv.get("steps", {}).items():
            log(f"  step {name}: accuracy {step['accuracy']:.3f}, ROC-AUC {step['roc_auc']:.3f}")
    log(f"model saved to {out}")
    return report
