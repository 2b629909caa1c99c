"""Per-tag thresholds of the semantic layer, calibrated on labelled tickets.

For each risk tag that matches example sentences, every ticket's best similarity to the tag's
examples (``Findings.semantic_best``) is compared with the ticket's expected tags: the threshold
kept is the one on a fixed grid that maximises F1 of "tag found" (pattern hit or similarity at
or above the threshold), ties going to the higher threshold (fewer surprises on unseen text).
A tag with no labelled positive keeps its current threshold.

    thresholds, report = calibrate(findings, expected_tags, detector)
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from tiergate.nlp.risk import SEMANTIC_THRESHOLD, RiskDetector
from tiergate.nlp.risk_rules import Findings

GRID = tuple(round(0.40 + 0.02 * i, 2) for i in range(29))     # 0.40 .. 0.96


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def calibrate(findings: Sequence[Findings], expected: Sequence[set[str]],
              detector: RiskDetector) -> tuple[dict[str, float], dict[str, Any]]:
    thresholds: dict[str, float] = {}
    report: dict[str, Any] = {}
    for rule in detector.rules:
        if not rule.semantic:
            continue
        tag = rule.name
        positives = sum(tag in e for e in expected)
        if not positives:
            continue
        pattern = [any(h.tag == tag and h.how == "pattern" for h in f.hits) for f in findings]
        best = [f.semantic_best.get(tag) for f in findings]
        choice, choice_f1 = None, -1.0
        for t in GRID:
            tp = fp = fn = 0
            for want, pat, sim in zip(expected, pattern, best):
                got = pat or (sim is not None and sim >= t)
                tp += got and tag in want
                fp += got and tag not in want
                fn += (not got) and tag in want
            f1 = _f1(tp, fp, fn)
            if f1 >= choice_f1:
                choice, choice_f1 = t, f1
        current = rule.threshold if rule.threshold is not None else SEMANTIC_THRESHOLD
        thresholds[tag] = choice if choice is not None else current
        report[tag] = {"positives": positives, "threshold": thresholds[tag],
                       "f1": round(choice_f1, 3), "was": current}
    return thresholds, report


def expected_tags(rows: Sequence[Mapping[str, Any]]) -> list[set[str]]:
    return [set((row.get("label") or {}).get("tags") or ()) for row in rows]
