"""``tiergate eval``: how good the tagger is on labelled public text it was not tuned on.

Data (``--data``, default ``../shared/data``; every ``*.csv`` of each folder is read, so a held-out
file dropped next to the dev file is included):

complaints/        tweets to brand support accounts: ``label`` (complaint), ``Severity`` 0-4
airline_sentiment/ airline tweets: ``airline_sentiment`` negative / neutral / positive
support_intents/   synthetic support requests: ``intent`` (contact_human_agent, ...)

Tasks, each for the out-of-the-box rules and for a spaCy textcat trained here on a seeded 70 %
split of the same set (scored on the other 30 %), next to a majority-class baseline:

risk       escalation-risk PROXY (no set records real escalations): complaints Severity >= 3.
           Score = attention score; ROC-AUC, PR-AUC, F1 at the shipped threshold
           (``RISK_THRESHOLD``). "trained": the attention score with the model ``tiergate
           train`` makes from graded history (``stack.fit_ladder``), here the split's rows as
           levels 0 (not a complaint), 1 (complaint) and 2 (Severity >= 3); the model's
           probability of the top level leads the text part of the score (``model`` reason) -
           the shipped product path. "trained:severity": the same with only that model's
           Severity >= 3 step (what a history labelled escalated / not trains).
complaint  complaint detection (``label``) on all rows and on support-domain rows: accuracy, F1.
           "trained" = the graded model's first step (level >= 1 = complaint; textcat +
           hashed word/char n-gram regression + rule signals, stacked) at 0.5;
           "trained:textcat" = its textcat part alone.
sentiment  airline 3 classes, all rows and rows with annotator confidence >= 0.9:
           accuracy, macro-F1.
human      explicit request for a human (intent ``contact_human_agent``): precision, recall.

``across_seeds`` repeats the whole evaluation over several split seeds (``tiergate eval --seeds
5``) and reports each held-out target per seed with its mean and spread: a figure met on one split
only is not met. The rules are scored once; each seed only changes which rows are held out.

Every hyper-parameter of the trained models (n-gram ridge, embedding ridge, stacking ridges) is
chosen by cross-validation inside the 70 % split; nothing is chosen on the 30 %.

Embeddings: the "trained" complaint / risk models are what ``tiergate train`` fits, so with
``tiergate[embeddings]`` installed (``embeddings=None``) every step carries the all-MiniLM-L6-v2
embedding column; the table's footer says whether they were used (``result["embeddings"]``).

Models trained here live in a temporary folder and are deleted; nothing trained on these sets
(airline is CC BY-NC-SA) is written into the package.
"""
from __future__ import annotations

import csv
import math
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from tiergate.nlp import embed, stack
from tiergate.nlp import metrics as M
from tiergate.nlp.classifier import NEGATIVE, POSITIVE, TextClassifier, train_textcat
from tiergate.nlp.enrich import RISK_THRESHOLD, Enricher

SEED = 20240917
TRAIN_SHARE = 0.7
# The complaint / risk textcats are unigram (``stack.TEXTCAT_NGRAM``; bigrams overfit 1,700
# rows, the n-gram regression carries them); unigrams + bigrams for the larger airline set.
NON_SUPPORT = frozenset({"random_reply", "random_tweet"})
SENTIMENT_LABELS = ("negative", "neutral", "positive")

TARGETS = {  # (task, metric, variant) -> minimum
    ("complaint", "accuracy", "trained"): 0.88, ("complaint", "accuracy", "rules"): 0.82,
    ("risk", "roc_auc", "trained"): 0.90,
    ("risk", "roc_auc", "rules"): 0.82,
    ("sentiment", "accuracy", "trained"): 0.84, ("sentiment", "accuracy", "rules"): 0.75,
    ("human", "recall", "rules"): 0.95, ("human", "precision", "rules"): 0.90,
}


def _read(folder: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted(folder.glob("*.csv")):
        with open(path, encoding="utf-8", newline="") as fh:
            rows.extend(csv.DictReader(fh))
    return rows


def load_complaints(data: Path) -> list[dict[str, Any]]:
    out = []
    for r in _read(data / "complaints"):
        try:
            sev = int(float(r.get("Severity") or 0))
        except ValueError:
            sev = 0
        complaint = str(r["label"]).strip() == "1"
        out.append({"text": r["tweet"], "complaint": complaint, "risk": sev >= 3,
                    "level": (2 if sev >= 3 else 1) if complaint else 0,
                    "support": r.get("domain") not in NON_SUPPORT})
    return out


def load_airline(data: Path) -> list[dict[str, Any]]:
    out = []
    for r in _read(data / "airline_sentiment"):
        label = (r.get("airline_sentiment") or "").strip().lower()
        if label not in SENTIMENT_LABELS:
            continue
        try:
            conf = float(r.get("airline_sentiment_confidence") or 0)
        except ValueError:
            conf = 0.0
        out.append({"text": r["text"], "label": label, "confident": conf >= 0.9})
    return out


def load_intents(data: Path) -> list[dict[str, Any]]:
    return [{"text": r["instruction"], "human": r["intent"] == "contact_human_agent"}
            for r in _read(data / "support_intents")]


def split(rows: Sequence[dict], seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """Fixed seeded shuffle, first 70 % train, rest test."""
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    cut = int(len(order) * TRAIN_SHARE)
    return [rows[i] for i in order[:cut]], [rows[i] for i in order[cut:]]


@dataclass
class Row:
    task: str
    subset: str
    variant: str          # rules | trained | majority
    n: int
    values: dict[str, float] = field(default_factory=dict)


def _binary_rows(task, subset, n, y, pred, score=None, variant="rules") -> Row:
    p, r, f = M.prf(y, pred)
    values = {"accuracy": M.accuracy(y, pred), "precision": p, "recall": r, "f1": f}
    if score is not None:
        values["roc_auc"] = M.roc_auc(y, score)
        values["pr_auc"] = M.pr_auc(y, score)
    return Row(task, subset, variant, n, values)


def _majority_binary(task, subset, y) -> Row:
    maj = bool(M.majority(y))
    pred = [maj] * len(y)
    row = _binary_rows(task, subset, len(y), y, pred, [0.0] * len(y), "majority")
    return row


def evaluate(data: Path, model_dir: str | Path | None = None, *, train: bool = True,
             log: Callable[[str], None] = lambda s: None, embeddings: bool | None = None,
             seed: int = SEED, memo: dict | None = None) -> dict[str, Any]:
    """All tasks; returns {"rows": [...], "targets": [...], "embeddings": bool, "seconds": ...}.
    ``embeddings``: as ``tiergate train`` (None = on when the extra is installed). ``seed``
    draws the 70 / 30 split; ``memo`` (text -> rules enrichment) lets several seeds share one
    scoring pass."""
    started = time.perf_counter()
    data = Path(data)
    rules = Enricher(None)
    rows: list[Row] = []

    memo = {} if memo is None else memo

    def score(texts):
        todo = list(dict.fromkeys(t for t in texts if t not in memo))
        memo.update(zip(todo, rules.score_many([[t] for t in todo])))
        return [memo[t] for t in texts]

    # -- complaints: risk proxy + complaint detection --------------------------------------------
    comp = load_complaints(data)
    train_c, test_c = split(comp, seed)
    log(f"complaints: {len(comp)} rows ({len(test_c)} held out for the trained model)")
    for subset, rs in (("all", comp), ("held-out 30%", test_c)):
        en = score([r["text"] for r in rs])
        y = [r["risk"] for r in rs]
        rows.append(_binary_rows("risk", subset, len(rs), y,
                                 [e.attention_score >= RISK_THRESHOLD for e in en],
                                 [e.attention_score for e in en]))
        rows.append(_majority_binary("risk", subset, y))
        for cs, sel in (("all", lambda r: True), ("support", lambda r: r["support"])):
            pairs = [(r["complaint"], e.complaint) for r, e in zip(rs, en) if sel(r)]
            yc = [a for a, _ in pairs]
            rows.append(_binary_rows("complaint", f"{subset} / {cs}", len(pairs), yc,
                                     [b for _, b in pairs]))
            rows.append(_majority_binary("complaint", f"{subset} / {cs}", yc))

    # -- airline sentiment -----------------------------------------------------------------------
    air = load_airline(data)
    train_a, test_a = split(air, seed)
    log(f"airline: {len(air)} rows")
    air_en = score([r["text"] for r in air])
    held = {id(r) for r in test_a}
    for subset, sel in (("all", lambda r: True), ("confidence>=0.9", lambda r: r["confident"]),
                        ("held-out 30%", lambda r: id(r) in held),
                        ("held-out 30% / conf>=0.9", lambda r: id(r) in held and r["confident"])):
        pairs = [(r["label"], e.sentiment_label) for r, e in zip(air, air_en) if sel(r)]
        rows.append(_sentiment_row(subset, pairs, "rules"))
        maj = M.majority([a for a, _ in pairs])
        rows.append(_sentiment_row(subset, [(a, maj) for a, _ in pairs], "majority"))

    # -- human request -------------------------------------------------------------------------
    intents = load_intents(data)
    train_i, test_i = split(intents, seed)
    log(f"intents: {len(intents)} rows")
    for subset, rs in (("all", intents), ("held-out 30%", test_i)):
        en = score([r["text"] for r in rs])
        y = [r["human"] for r in rs]
        rows.append(_binary_rows("human", subset, len(rs), y,
                                 ["human_request" in e.tags for e in en]))
        rows.append(_majority_binary("human", subset, y))

    # -- trained models --------------------------------------------------------------------------
    emb_used = False
    if train:
        with tempfile.TemporaryDirectory(prefix="tiergate-eval-") as tmp:
            tmp = Path(tmp)
            log("training: the graded model tiergate train makes from levels (0 not a "
                "complaint, 1 complaint, 2 Severity >= 3)")
            tr_texts = [r["text"] for r in train_c]
            te_texts = [r["text"] for r in test_c]
            embeddings = emb_used = stack.use_embeddings(embeddings)
            emb_tr = None
            if embeddings:
                t0 = time.perf_counter()
                embed.features([r["text"] for r in comp])   # all at once; kept in embed's cache
                emb_tr = embed.features(tr_texts)           # (so predictions reuse the vectors)
                log(f"embeddings: on ({len(comp)} texts in {time.perf_counter() - t0:.1f} s)")
            fit = stack.fit_ladder(tr_texts, [r["level"] for r in train_c], rules=rules,
                                   embeddings=embeddings, embedded=emb_tr)
            fit.model.save(tmp / "graded")
            complaint_step, severity_step = fit.model.steps
            severity_step.save(tmp / "severity")
            y = [r["risk"] for r in test_c]
            for variant, folder in (("trained", model_dir or tmp / "graded"),
                                    ("trained:severity", tmp / "severity")):
                en = Enricher(None, model_path=str(folder)).score_many([[t] for t in te_texts])
                rows.append(_binary_rows("risk", "held-out 30%", len(test_c), y,
                                         [e.attention_score >= RISK_THRESHOLD for e in en],
                                         [e.attention_score for e in en], variant))

            probs = complaint_step.predict_positive(te_texts)
            textcat = complaint_step.textcat_positive(te_texts)
            for cs, sel in (("all", lambda r: True), ("support", lambda r: r["support"])):
                for variant, ps in (("trained", probs), ("trained:textcat", textcat)):
                    pairs = [(r["complaint"], p >= 0.5) for r, p in zip(test_c, ps) if sel(r)]
                    rows.append(_binary_rows("complaint", f"held-out 30% / {cs}", len(pairs),
                                             [a for a, _ in pairs], [b for _, b in pairs],
                                             variant=variant))

            log("training: sentiment")
            sent_model = TextClassifier(train_textcat([r["text"] for r in train_a],
                                                      [r["label"] for r in train_a]))
            cats = sent_model.predict_cats([r["text"] for r in test_a])
            preds = [max(c, key=c.get) for c in cats]
            for subset, sel in (("held-out 30%", lambda r: True),
                                ("held-out 30% / conf>=0.9", lambda r: r["confident"])):
                pairs = [(r["label"], p) for r, p in zip(test_a, preds) if sel(r)]
                rows.append(_sentiment_row(subset, pairs, "trained"))

            log("training: human request")
            hum_model = TextClassifier(train_textcat(
                [r["text"] for r in train_i],
                [POSITIVE if r["human"] else NEGATIVE for r in train_i]))
            probs = hum_model.predict_positive([r["text"] for r in test_i])
            rows.append(_binary_rows("human", "held-out 30%", len(test_i),
                                     [r["human"] for r in test_i], [p >= 0.5 for p in probs],
                                     variant="trained"))
    result = {"rows": [r.__dict__ for r in rows], "risk_threshold": RISK_THRESHOLD,
              "seed": seed, "train_share": TRAIN_SHARE, "trained": train,
              "embeddings": emb_used}
    result["targets"] = check_targets(rows)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


SEEDS = (SEED, 1, 2, 3, 4)


def across_seeds(data: Path, seeds: Sequence[int] = SEEDS, *, train: bool = False,
                 log: Callable[[str], None] = lambda s: None, **kw: Any) -> dict[str, Any]:
    """``evaluate`` once per split seed; every target with its value per seed, mean, min, max
    and whether it is met on every seed (a figure met on one split only is not met)."""
    started = time.perf_counter()
    memo: dict = {}
    runs = []
    for seed in seeds:
        log(f"split seed {seed}")
        runs.append(evaluate(data, train=train, log=log, seed=seed, memo=memo, **kw))
    targets = []
    for first in runs[0]["targets"]:
        key = (first["task"], first["metric"], first["variant"], first["subset"])
        values = [t["value"] for run in runs for t in run["targets"]
                  if (t["task"], t["metric"], t["variant"], t["subset"]) == key]
        if len(values) != len(runs) or "held-out" not in first["subset"]:
            continue
        targets.append({"task": key[0], "metric": key[1], "variant": key[2], "subset": key[3],
                        "target": first["target"], "values": values,
                        "mean": round(sum(values) / len(values), 4), "min": min(values),
                        "max": max(values), "met": min(values) >= first["target"]})
    return {"seeds": list(seeds), "targets": targets, "trained": train,
            "seconds": round(time.perf_counter() - started, 1)}


def format_seeds(result: dict[str, Any]) -> str:
    """One Markdown row per held-out target: the value on each seed, mean and spread."""
    seeds = result["seeds"]
    lines = ["| task | metric | variant | subset | " + " | ".join(f"seed {s}" for s in seeds)
             + " | mean | min-max | target | met on every seed |",
             "|---|---|---|---|" + "---:|" * (len(seeds) + 3) + "---|"]
    for t in result["targets"]:
        lines.append(f"| {t['task']} | {t['metric']} | {t['variant']} | {t['subset']} | "
                     + " | ".join(f"{v:.3f}" for v in t["values"])
                     + f" | {t['mean']:.3f} | {t['min']:.3f}-{t['max']:.3f} | "
                     f"{t['target']:.2f} | {'yes' if t['met'] else 'NO'} |")
    lines.append("")
    lines.append(f"Split seeds {', '.join(map(str, seeds))}; train share {TRAIN_SHARE}; "
                 f"{result['seconds']} s.")
    return "\n".join(lines)


def _sentiment_row(subset: str, pairs, variant: str) -> Row:
    y = [a for a, _ in pairs]
    p = [b for _, b in pairs]
    return Row("sentiment", subset, variant, len(pairs),
               {"accuracy": M.accuracy(y, p), "macro_f1": M.macro_f1(y, p, SENTIMENT_LABELS)})


# Which subset each target is checked on: text the trained model never saw (held-out split);
# rules are checked on all rows (they were not fitted to any of them) and on the held-out split.
TARGET_SUBSETS = {
    "complaint": ("held-out 30% / all", "all / all"),
    "risk": ("held-out 30%", "all"),
    "sentiment": ("held-out 30% / conf>=0.9", "held-out 30%", "confidence>=0.9", "all"),
    "human": ("held-out 30%", "all"),
}


def check_targets(rows: Sequence[Row]) -> list[dict[str, Any]]:
    out = []
    for (task, metric, variant), minimum in TARGETS.items():
        for subset in TARGET_SUBSETS[task]:
            for r in rows:
                if r.task == task and r.variant == variant and r.subset == subset:
                    value = r.values.get(metric)
                    if value is None or (isinstance(value, float) and math.isnan(value)):
                        continue
                    out.append({"task": task, "metric": metric, "variant": variant,
                                "subset": subset, "value": round(value, 4), "target": minimum,
                                "met": value >= minimum,
                                "gap": round(min(0.0, value - minimum), 4)})
    return out


COLUMNS = {
    "risk": ("roc_auc", "pr_auc", "f1"),
    "complaint": ("accuracy", "f1"),
    "sentiment": ("accuracy", "macro_f1"),
    "human": ("precision", "recall"),
}
TITLES = {
    "risk": "Escalation-risk proxy (complaints Severity >= 3)",
    "complaint": "Complaint detection (complaints label)",
    "sentiment": "Sentiment (airline, 3 classes)",
    "human": "Request for a human (intent contact_human_agent)",
}


def format_table(result: dict[str, Any]) -> str:
    """Markdown tables, one per task, rules / trained / majority side by side per subset."""
    lines: list[str] = []
    rows = result["rows"]
    for task, cols in COLUMNS.items():
        lines.append(f"### {TITLES[task]}")
        lines.append("")
        lines.append("| subset | n | variant | " + " | ".join(cols) + " |")
        lines.append("|---|---:|---|" + "---:|" * len(cols))
        task_rows = [r for r in rows if r["task"] == task]
        order = {"rules": 0, "trained": 1, "trained:textcat": 2, "trained:severity": 3,
                 "majority": 4}
        subsets = list(dict.fromkeys(r["subset"] for r in task_rows))
        for subset in subsets:
            for r in sorted((r for r in task_rows if r["subset"] == subset),
                            key=lambda r: order[r["variant"]]):
                vals = []
                for c in cols:
                    v = r["values"].get(c)
                    vals.append("n/a" if v is None or (isinstance(v, float) and math.isnan(v))
                                else f"{v:.3f}")
                lines.append(f"| {subset} | {r['n']} | {r['variant']} | " + " | ".join(vals)
                             + " |")
        lines.append("")
    lines.append("### Targets")
    lines.append("")
    lines.append("| task | metric | variant | subset | value | target | met |")
    lines.append("|---|---|---|---|---:|---:|---|")
    for t in result["targets"]:
        met = "yes" if t["met"] else f"NO ({t['gap']:+.3f})"
        lines.append(f"| {t['task']} | {t['metric']} | {t['variant']} | {t['subset']} | "
                     f"{t['value']:.3f} | {t['target']:.2f} | {met} |")
    lines.append("")
    if result.get("trained", True):
        lines.append("Trained graded model (complaint and Severity >= 3 steps): embedding column "
                     + ("ON (all-MiniLM-L6-v2, tiergate[embeddings])."
                        if result.get("embeddings") else "off (tiergate[embeddings] not used)."))
    lines.append(f"Risk threshold: attention score >= {result['risk_threshold']}; split seed "
                 f"{result['seed']}, train share {result['train_share']}; "
                 f"{result['seconds']} s.")
    return "\n".join(lines)
