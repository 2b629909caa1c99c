"""Plain-Python classification metrics (no scikit-learn dependency): accuracy, precision, recall,
F1, macro-F1, ROC-AUC (rank statistic, ties averaged) and PR-AUC (average precision)."""
from __future__ import annotations

from typing import Sequence


def accuracy(y: Sequence, p: Sequence) -> float:
    return sum(a == b for a, b in zip(y, p)) / len(y) if y else 0.0


def prf(y: Sequence[bool], p: Sequence[bool]) -> tuple[float, float, float]:
    tp = sum(1 for a, b in zip(y, p) if a and b)
    fp = sum(1 for a, b in zip(y, p) if not a and b)
    fn = sum(1 for a, b in zip(y, p) if a and not b)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def macro_f1(y: Sequence[str], p: Sequence[str], labels: Sequence[str] | None = None) -> float:
    labels = list(labels or sorted(set(y)))
    return sum(prf([a == c for a in y], [b == c for b in p])[2] for c in labels) / len(labels)


def roc_auc(y: Sequence[bool], score: Sequence[float]) -> float:
    """Mann-Whitney U / (n_pos * n_neg), ties counted as half."""
    pairs = sorted(zip(score, y))
    n_pos = sum(1 for _, t in pairs if t)
    n_neg = len(pairs) - n_pos
    if not n_pos or not n_neg:
        return float("nan")
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        avg_rank = (i + 1 + j) / 2.0
        rank_sum += avg_rank * sum(1 for k in range(i, j) if pairs[k][1])
        i = j
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def pr_auc(y: Sequence[bool], score: Sequence[float]) -> float:
    """Average precision (step-wise area under the precision-recall curve, ties grouped)."""
    n_pos = sum(1 for t in y if t)
    if not n_pos:
        return float("nan")
    pairs = sorted(zip(score, y), key=lambda x: -x[0])
    tp = fp = 0
    ap = 0.0
    prev_recall = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            tp += pairs[j][1]
            fp += not pairs[j][1]
            j += 1
        recall = tp / n_pos
        ap += (recall - prev_recall) * (tp / (tp + fp))
        prev_recall = recall
        i = j
    return ap


def majority(y: Sequence) -> object:
    counts: dict = {}
    for v in y:
        counts[v] = counts.get(v, 0) + 1
    return max(sorted(counts, key=str), key=lambda k: counts[k])
