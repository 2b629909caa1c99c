"""The trained tag reader: one logistic regression per risk tag over hashed word and character
n-grams of the customer's live words (accent-folded, see ``features``), shipped inside
the package as ``nlp/data/tag_model.npz``.

Patterns and example sentences catch what a tag's author thought of; the tag reader catches
the same risk told in other words ("someone in Brazil logged in as our admin", "we are
trialling another tool with half the team"), in any of the languages it was trained on,
because character n-grams carry across spelling, inflection and cognates. It adds a tag only
above a per-tag threshold chosen by cross-validation for precision, and its hits pass the same
reading rules as pattern hits (negated, past, settled, closing).

Trained by ``scripts/train_tag_model.py`` on the benchmark's development half
(``benchmark/tickets-dev.jsonl``) and the tags' example sentences and near-miss negatives in
``nlp/default_risk.json``; never on the held-back half (the file lists the tickets it read,
``tests/test_benchmark.py`` checks).

    model = TagModel.load()
    model.scores(["someone exported all our contacts and it was none of us"])
    # {"security": 0.31, "privacy": 0.04, ...}
    model.fired("...")                 # [(tag, score, threshold)] at or above the threshold
    model.best_sentences(sentences)    # {tag: (index, score)} of the sentence that reads most like it

The tone model (``TONE_DATA``, ``scripts/train_tone_model.py``) is the same model with one tag,
"complaint", trained on ``benchmark/posts.jsonl``.
"""
from __future__ import annotations

import random
import re
import threading
import zlib
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from tiergate.nlp.classifier import NgramLR, sigmoid, subset_rows
from tiergate.nlp.semantic import fold

DATA = Path(__file__).with_name("data") / "tag_model.npz"
TONE_DATA = DATA.with_name("tone_model.npz")    # the same model, one tag: "complaint"
TEXT_CHARS = 6000           # the live words read: the latest first, up to this many characters
FOLDS = 4
REPEATS = 3                 # rounds of cross-validation, pooled, for the thresholds
TARGET_PRECISION = 0.9      # per tag, in cross-validation
MIN_THRESHOLD = 0.05
BALANCE = 2                 # positives weigh as if negatives were this many times as many
HASH_BITS = 20
CHAR_N = (2, 5)
_LOCK = threading.Lock()
_LOADED: dict[Path, Any] = {}
_NOISE = re.compile(r"https?://\S+|www\.\S+|\S+@\S+|@\w+")
_DIGITS = re.compile(r"\d+")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_PRIME = np.uint64(1099511628211)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(64 - HASH_BITS)


def load_cached(path: str | Path, read: Callable[[Path], Any]) -> Any:
    """``read(path)`` once per process and path; None when the file is absent."""
    path = Path(path)
    with _LOCK:
        if path not in _LOADED:
            _LOADED[path] = read(path) if path.exists() else None
        return _LOADED[path]


def _char_keys(text: str) -> np.ndarray:
    """Hash ids of the character 2..5-grams (rolling polynomial hash, multiplicative mix)."""
    a = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    h = np.zeros(len(a), dtype=np.uint64)
    keys = []
    for n in range(1, CHAR_N[1] + 1):
        if len(a) < n:
            break
        h = h[:len(a) - n + 1] * _PRIME + a[n - 1:]
        if n >= CHAR_N[0]:
            keys.append(((h + np.uint64(n)) * _MIX) >> _SHIFT)
    if not keys:
        return np.zeros(0, np.int64)
    ordered = np.sort(np.concatenate(keys))     # distinct ids: sort and drop repeats, several
    first = np.empty(len(ordered), dtype=bool)  # times faster than np.unique's hash path here
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first].astype(np.int64)


def features(texts: Sequence[str]):
    """(indptr, hash ids, values) rows: word 1-2-grams and character 2-5-grams of the accent-
    folded lower-case text (addresses and digits collapsed), each block L2-normalised."""
    indptr, ids, vals = [0], [], []
    for text in texts:
        low = _DIGITS.sub("0", _NOISE.sub(" @ ", fold(text or "")))
        toks = [t.encode() for t in _TOKEN.findall(low)]
        words = set(map(zlib.crc32, toks))
        words.update(map(zlib.crc32, [a + b" " + b for a, b in zip(toks, toks[1:])]))
        word_ids = np.fromiter(words, dtype=np.int64, count=len(words))
        word_ids &= (1 << HASH_BITS) - 1
        word_ids |= 1 << HASH_BITS
        char_ids = _char_keys(" " + " ".join(low.split()) + " ")
        for block in (word_ids, char_ids):
            if len(block):
                ids.append(block)
                vals.append(np.full(len(block), 1.0 / np.sqrt(len(block))))
        indptr.append(indptr[-1] + len(word_ids) + len(char_ids))
    return (np.asarray(indptr, dtype=np.int64),
            np.concatenate(ids) if ids else np.zeros(0, np.int64),
            np.concatenate(vals) if vals else np.zeros(0))


class TagModel:
    """Weights per tag over the hash ids seen in training (``cols`` sorted)."""

    def __init__(self, tags: Sequence[str], cols, W, b, thresholds, trained_on: Sequence[str] = ()):
        self.tags = list(tags)
        self.cols = np.asarray(cols, dtype=np.int64)
        self.W = np.asarray(W, dtype=np.float32)
        self.b = np.asarray(b, dtype=np.float32)
        self.thresholds = np.asarray(thresholds, dtype=np.float32)
        self.trained_on = list(trained_on)
        # hash id -> row of W (-1: not seen in training); ids are below 2 ** (HASH_BITS + 1)
        self._row = np.full(1 << (HASH_BITS + 1), -1, dtype=np.int32)
        self._row[self.cols] = np.arange(len(self.cols), dtype=np.int32)

    # -- reading ------------------------------------------------------------------------------
    def _logits(self, texts: Sequence[str]) -> np.ndarray:
        indptr, ids, vals = features(texts)
        n = len(indptr) - 1
        out = np.tile(self.b, (n, 1)).astype(np.float64)
        if not len(self.cols) or not len(ids):
            return out
        pos = self._row[ids]
        known = pos >= 0
        if n == 1:
            return out + vals[known] @ self.W[pos[known]]
        rows = np.repeat(np.arange(n), np.diff(indptr))[known]
        sums = np.cumsum(vals[known, None] * self.W[pos[known]], axis=0, dtype=np.float64)
        sums = np.vstack([np.zeros((1, out.shape[1])), sums])
        ends = np.searchsorted(rows, np.arange(n + 1))
        return out + sums[ends[1:]] - sums[ends[:-1]]

    def score_matrix(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), len(tags)) probabilities."""
        return sigmoid(self._logits([t[-TEXT_CHARS:] for t in texts]))

    def scores(self, text: str) -> dict[str, float]:
        return dict(zip(self.tags, (float(p) for p in self.score_matrix([text])[0])))

    def fired(self, text: str, tags: Iterable[str] | None = None) -> list[tuple[str, float, float]]:
        """(tag, score, threshold) for each tag (of ``tags``) at or above its threshold."""
        return self.over_threshold(self.scores(text), tags)

    def over_threshold(self, scores: Mapping[str, float], tags: Iterable[str] | None = None
                       ) -> list[tuple[str, float, float]]:
        """``fired`` for scores already read (``scores``)."""
        wanted = None if tags is None else set(tags)
        return [(t, scores[t], float(th)) for t, th in zip(self.tags, self.thresholds)
                if scores[t] >= th and (wanted is None or t in wanted)]

    def best_sentences(self, sentences: Sequence[str]) -> dict[str, tuple[int, float]]:
        """Per tag, (index, score) of the sentence that reads most like it on its own."""
        if not sentences:
            return {tag: (0, 0.0) for tag in self.tags}
        logits = self._logits(list(sentences))
        best = np.argmax(logits, axis=0)
        return {tag: (int(best[j]), float(sigmoid(logits[best[j], j])))
                for j, tag in enumerate(self.tags)}

    # -- storage ------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path = DATA) -> "TagModel | None":
        """The shipped model (cached per process), or None when the file is absent."""
        return load_cached(path, cls._read)

    @classmethod
    def _read(cls, path: Path) -> "TagModel":
        z = np.load(path, allow_pickle=False)
        W = z["W"].astype(np.float32) * z["scale"].astype(np.float32)
        return cls([str(t) for t in z["tags"]], z["cols"], W, z["b"], z["thresholds"],
                   [str(t) for t in z["trained_on"]])

    def save(self, path: str | Path = DATA) -> None:
        scale = np.maximum(np.abs(self.W).max(axis=0), 1e-9) / 127.0
        np.savez_compressed(
            path, tags=np.array(self.tags), cols=self.cols,
            W=np.round(self.W / scale).astype(np.int8), scale=scale.astype(np.float32),
            b=self.b, thresholds=self.thresholds, trained_on=np.array(self.trained_on))


# -- training -----------------------------------------------------------------------------------
def _fit_weights(rows, labelsets: Sequence[set[str]], tags: Sequence[str], C: float):
    """One regression per tag on the same rows, positives repeated to about one in
    ``BALANCE + 1`` -> (cols, W, b)."""
    _, ids, _ = rows
    cols = np.unique(ids)
    W = np.zeros((len(cols), len(tags)), dtype=np.float32)
    b = np.zeros(len(tags), dtype=np.float32)
    for j, tag in enumerate(tags):
        truth = [tag in y for y in labelsets]
        pos = [i for i, t in enumerate(truth) if t]
        extra = pos * max(0, round((len(truth) - len(pos)) / max(1, len(pos)) / BALANCE) - 1)
        index = list(range(len(truth))) + extra
        m = NgramLR.fit((), [truth[i] for i in index], C=C, rows=subset_rows(rows, index))
        W[np.searchsorted(cols, m.cols), j] = m.w
        b[j] = m.b
    return cols, W, b


def _threshold(scores: np.ndarray, truth: np.ndarray, precision: float) -> float:
    """The lowest score whose hits keep ``precision`` in cross-validation (at least
    ``MIN_THRESHOLD``); 1.0 (never fires) when no cut reaches it."""
    best = 1.0
    for cut in sorted(set(np.round(scores, 3)), reverse=True):
        hit = scores >= cut
        tp = int((hit & truth).sum())
        if tp and tp / int(hit.sum()) >= precision:
            best = float(cut)
    return max(best, MIN_THRESHOLD) if best < 1.0 else 1.0


def train(texts: Sequence[str], labelsets: Sequence[set[str]], tags: Sequence[str], *,
          fixed: Sequence[bool] | None = None, ids: Sequence[str] = (), C: float = 10.0,
          precision: float = TARGET_PRECISION, repeats: int = REPEATS
          ) -> tuple[TagModel, dict]:
    """Fit on all rows; thresholds from ``repeats`` rounds of ``FOLDS``-fold cross-validation
    over the rows that are not ``fixed`` (tickets; example sentences always train), pooled.
    -> (model, per-tag CV figures)."""
    texts = [t[-TEXT_CHARS:] for t in texts]
    fixed = list(fixed) if fixed is not None else [False] * len(texts)
    rows = features(texts)
    judged = [i for i, f in enumerate(fixed) if not f]
    always = [i for i, f in enumerate(fixed) if f]
    pooled, truth = [], []
    for seed in range(repeats):
        order = list(judged)
        random.Random(seed).shuffle(order)
        for k in range(FOLDS):
            held = order[k::FOLDS]
            held_set = set(held)
            train_idx = always + [i for i in order if i not in held_set]
            part = TagModel(tags, *_fit_weights(subset_rows(rows, train_idx),
                                                [labelsets[i] for i in train_idx], tags, C),
                            np.ones(len(tags)))
            pooled.append(part.score_matrix([texts[i] for i in held]))
            truth.extend(labelsets[i] for i in held)
    cv = np.concatenate(pooled) if pooled else np.zeros((0, len(tags)))
    thresholds, report = [], {}
    for j, tag in enumerate(tags):
        right = np.array([tag in y for y in truth], dtype=bool)
        th = _threshold(cv[:, j], right, precision)
        hit = cv[:, j] >= th
        thresholds.append(th)
        report[tag] = {"positives": int(right.sum()) // max(repeats, 1), "threshold": round(th, 3),
                       "cv_recall": round(float((hit & right).sum() / max(1, right.sum())), 3),
                       "cv_precision": round(float((hit & right).sum() / max(1, hit.sum())), 3)}
    model = TagModel(tags, *_fit_weights(rows, labelsets, tags, C), thresholds, trained_on=ids)
    return model, report


def save_and_report(model: TagModel, report: Mapping[str, dict], path: Path) -> list[str]:
    """Write ``model`` to ``path``; one line per tag of its cross-validated figures, and one
    naming the file."""
    model.save(path)
    lines = [f"{tag:14} positives {row['positives']:4}  threshold {row['threshold']:.3f}  "
             f"cross-validated precision {row['cv_precision']:.2f} recall {row['cv_recall']:.2f}"
             for tag, row in report.items()]
    return lines + [f"wrote {path.name} ({path.stat().st_size:,} bytes), trained on "
                    f"{len(model.trained_on)} items"]
