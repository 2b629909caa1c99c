"""The out-of-the-box rules on the shared labelled data (skips when ../shared/data is absent).

Targets from issue 5 are asserted on all rows of each set (the rules were not fitted to them).
The trained targets are asserted on the held-out 30 % split (the dev split's figures in comments).
"""
from __future__ import annotations

import pytest

from tiergate.nlp import metrics as M
from tiergate.nlp.evaluate import evaluate


@pytest.fixture(scope="module")
def rules_result(shared_data):
    return evaluate(shared_data, train=False)


def _value(result, task, subset, metric, variant="rules"):
    for r in result["rows"]:
        if r["task"] == task and r["subset"] == subset and r["variant"] == variant:
            return r["values"][metric]
    raise KeyError((task, subset, variant))


@pytest.mark.parametrize("task,subset,metric,minimum", [
    ("sentiment", "confidence>=0.9", "accuracy", 0.70),
    ("human", "all", "recall", 0.95),
    ("human", "all", "precision", 0.90),
    ("complaint", "all / all", "accuracy", 0.80),
    ("risk", "all", "roc_auc", 0.80),
])
def test_out_of_the_box_targets(rules_result, task, subset, metric, minimum):
    value = _value(rules_result, task, subset, metric)
    assert value >= minimum, f"{task} {metric} on {subset}: {value:.3f} < {minimum}"


def test_rules_beat_majority_baseline(rules_result):
    assert _value(rules_result, "risk", "all", "roc_auc") > 0.6
    assert _value(rules_result, "complaint", "all / all", "accuracy") > \
        _value(rules_result, "complaint", "all / all", "accuracy", "majority")
    assert _value(rules_result, "sentiment", "all", "macro_f1") > \
        _value(rules_result, "sentiment", "all", "macro_f1", "majority")


def test_metrics_helpers():
    y = [True, True, False, False]
    assert M.roc_auc(y, [0.9, 0.8, 0.1, 0.2]) == 1.0
    assert M.roc_auc(y, [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert M.pr_auc(y, [0.9, 0.8, 0.1, 0.2]) == 1.0
    assert M.prf(y, [True, False, True, False]) == (0.5, 0.5, 0.5)
    assert M.macro_f1(["a", "b"], ["a", "b"]) == 1.0


def test_stacked_logistic_regression_learns_a_simple_rule():
    import numpy as np

    from tiergate.nlp import stack

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = list(X[:, 0] - 0.5 * X[:, 1] > 0)
    w = stack.fit_logistic(X, y, l2=1.0)
    p = stack.predict_logistic(w, X)
    assert M.roc_auc(y, list(p)) > 0.98
    assert w[0] > 0 > w[1]


@pytest.fixture(scope="module")
def trained_result(shared_data):
    # the full eval with the trained models (~2-3 minutes on 2 cores), with the embedding
    # column as `tiergate train` (the test extra installs tiergate[embeddings])
    return evaluate(shared_data, train=True)


def test_trained_eval_uses_embeddings_when_installed(trained_result):
    from tiergate.nlp import embed

    assert trained_result["embeddings"] is embed.available()


@pytest.mark.parametrize("task,subset,metric,minimum,variant", [
    ("sentiment", "held-out 30% / conf>=0.9", "accuracy", 0.84, "trained"),
    # met with the embedding column (dev split: 644 / 725; the line is 638)
    ("complaint", "held-out 30% / all", "accuracy", 0.88, "trained"),
    # the attention score led by the graded model (dev split: 0.9001; thin)
    ("risk", "held-out 30%", "roc_auc", 0.90, "trained"),
])
def test_trained_targets(trained_result, task, subset, metric, minimum, variant):
    value = _value(trained_result, task, subset, metric, variant)
    assert value >= minimum, f"{task} {metric} {variant} on {subset}: {value:.3f} < {minimum}"
    met = {(t["task"], t["variant"], t["subset"]): t["met"] for t in trained_result["targets"]}
    assert met[(task, variant, subset)] is True


def test_trained_models_beat_textcat_and_rules(trained_result):
    sub = "held-out 30% / all"
    stacked = _value(trained_result, "complaint", sub, "accuracy", "trained")
    assert stacked > _value(trained_result, "complaint", sub, "accuracy", "trained:textcat")
    assert stacked > _value(trained_result, "complaint", sub, "accuracy", "rules") + 0.03
    assert stacked > _value(trained_result, "complaint", sub, "accuracy", "majority") + 0.15
    risk = _value(trained_result, "risk", "held-out 30%", "roc_auc", "trained")
    assert risk > _value(trained_result, "risk", "held-out 30%", "roc_auc", "rules") + 0.05
    # the graded model ranks better than its Severity >= 3 step alone (a binary history)
    assert risk > _value(trained_result, "risk", "held-out 30%", "roc_auc", "trained:severity")


def test_ngram_regression_uses_character_ngrams_for_typos():
    import numpy as np

    from tiergate.nlp.classifier import NgramLR

    texts = ["my refund never arrived", "refund still missing", "where is my refund",
             "thanks a lot", "love the new app", "great service thanks"] * 5
    labels = [True, True, True, False, False, False] * 5
    model = NgramLR.fit(texts, labels, C=10.0)
    p = model.predict(["refnd missing", "thnks love it"])   # unseen spellings
    assert p[0] > 0.5 > p[1]
    assert np.all(np.isfinite(model.decision(["", "completely unseen words zzz"])))


def test_figures_over_split_seeds(shared_data):
    from tiergate.nlp.evaluate import across_seeds, format_seeds, split

    result = across_seeds(shared_data, (20240917, 1, 2), train=False)
    assert result["seeds"] == [20240917, 1, 2]
    rows = {(t["task"], t["metric"], t["subset"]): t for t in result["targets"]}
    risk = rows["risk", "roc_auc", "held-out 30%"]
    assert len(risk["values"]) == 3 and risk["min"] <= risk["mean"] <= risk["max"]
    assert risk["values"][0] == rules_value_on_seed(shared_data, 20240917)
    # different seeds hold out different rows, so the figures differ
    assert len(set(risk["values"])) > 1
    assert risk["met"] == (risk["min"] >= risk["target"])
    table = format_seeds(result)
    assert "seed 20240917" in table and "min-max" in table
    train, test = split(list(range(100)), 1)
    assert sorted(train + test) == list(range(100)) and split(list(range(100)), 2)[1] != test


def rules_value_on_seed(shared_data, seed):
    result = evaluate(shared_data, train=False, seed=seed)
    return round(_value(result, "risk", "held-out 30%", "roc_auc"), 4)
