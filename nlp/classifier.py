"""Trained text classifiers: a spaCy ``textcat`` (``spacy.TextCatBOW.v3``), a hashed word +
character n-gram logistic regression (numpy), an embedding ridge regression, and the files of
the stacked model ``tiergate train`` saves (built from them in ``tiergate.nlp.stacked``).

A saved model is a plain spaCy pipeline folder (``spacy.blank("en")`` + ``textcat``, no custom
components, so ``spacy.load`` works offline) plus ``tiergate.json``:
``{"positive_label": "ESCALATE", "labels": [...], "trained_on": N, "cv": {...}}``. A stacked
model (``"kind": "stacked"``) also has ``ngram.npz`` (the n-gram regression: the hash ids seen in
training and their weights) and ``stack.npy`` (the weights of the regression over rule signals,
textcat probability and n-gram logit, see ``tiergate.nlp.stack``). A stacked model trained with
the embedding column also has ``embed.npz`` (the ridge regression on all-MiniLM-L6-v2's
middle-layer features, ``EmbeddingRidge``, ``tiergate.nlp.embed``) and needs
``tiergate[embeddings]`` to load; folders without it load and predict as before. A folder with
the older ``embed.npy`` (a regression on the final sentence embedding) is refused with a
``ConfigError`` that says to retrain. A model trained on graded history (``"kind": "ladder"``)
is a folder of stacked models, one per level threshold (``level1/``, ``level2/``, ...), plus
``ladder.npy`` (the regression over all of their outputs, see ``LadderClassifier``).
``tiergate.nlp.stacked.load`` returns the right class; all answer ``predict_positive(texts)``.
"""
from __future__ import annotations

import json
import math
import random
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import spacy
from spacy.training import Example
from spacy.util import fix_random_seed, minibatch


META = "tiergate.json"
POSITIVE = "ESCALATE"
NEGATIVE = "OTHER"
NGRAM_FILE = "ngram.npz"
STACK_FILE = "stack.npy"
LADDER_FILE = "ladder.npy"
EMBED_FILE = "embed.npz"
OLD_EMBED_FILE = "embed.npy"    # the earlier sentence-embedding column (refused: retrain)


def _config(exclusive: bool, ngram: int = 2) -> dict:
    arch = {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": exclusive,
            "ngram_size": ngram, "no_output_layer": False, "length": 262144}
    return {"model": arch, "threshold": 0.5}


def train_textcat(texts: Sequence[str], labels: Sequence[str], *, epochs: int = 8,
                  seed: int = 0, dropout: float = 0.1, batch: int = 32,
                  ngram: int = 2):
    """A fresh ``spacy.blank("en")`` + exclusive ``textcat`` trained on (texts, label names)."""
    fix_random_seed(seed)
    names = sorted(set(labels))
    nlp = spacy.blank("en")
    textcat = nlp.add_pipe("textcat", config=_config(True, ngram))
    for name in names:
        textcat.add_label(name)
    docs = list(nlp.tokenizer.pipe(texts, batch_size=512))
    examples = [Example.from_dict(d, {"cats": {n: float(n == y) for n in names}})
                for d, y in zip(docs, labels)]
    optimizer = nlp.initialize(lambda: examples[:500])
    rng = random.Random(seed)
    order = list(range(len(examples)))
    for _ in range(epochs):
        rng.shuffle(order)
        for chunk in minibatch([examples[i] for i in order], size=batch):
            nlp.update(chunk, sgd=optimizer, drop=dropout)
    return nlp


def read_meta(path: Path) -> dict:
    """A model folder's ``tiergate.json`` ({} when it has none)."""
    if (path / META).exists():
        return json.loads((path / META).read_text(encoding="utf-8"))
    return {}


class TextClassifier:
    """Wraps a trained pipeline: ``predict_positive(texts)``, ``predict_cats(texts)``."""

    def __init__(self, nlp, positive: str = POSITIVE, meta: dict | None = None):
        self.nlp = nlp
        self.positive = positive
        self.meta = meta or {}

    @classmethod
    def load(cls, path: str | Path) -> "TextClassifier":
        """A plain textcat folder (``tiergate.nlp.stacked.load`` reads every kind)."""
        path = Path(path)
        meta = read_meta(path)
        return cls(spacy.load(path), meta.get("positive_label", POSITIVE), meta)

    def save(self, path: str | Path, **meta) -> None:
        path = Path(path)
        self.nlp.to_disk(path)
        self.meta = {"positive_label": self.positive,
                     "labels": list(self.nlp.get_pipe("textcat").labels), **meta}
        (path / META).write_text(json.dumps(self.meta, indent=2), encoding="utf-8")

    def predict_cats(self, texts: Sequence[str], batch_size: int = 512) -> list[dict[str, float]]:
        return [dict(d.cats) for d in self.nlp.pipe(texts, batch_size=batch_size)]

    def predict_positive(self, texts: Sequence[str]) -> list[float]:
        return [float(c.get(self.positive, 0.0)) for c in self.predict_cats(texts)]

    def textcat_positive(self, texts: Sequence[str], batch_size: int = 512) -> list[float]:
        """The spaCy textcat's probability alone (also inside a stacked model)."""
        return [float(d.cats.get(self.positive, 0.0))
                for d in self.nlp.pipe(texts, batch_size=batch_size)]


# -- hashed word / character n-gram logistic regression (numpy) ---------------------------------

HASH_BITS = 20
_URL_RE = re.compile(r"https?://\S+|www\.\S+", re.I)
MENTION_RE = re.compile(r"@\w+")
_NUM_RE = re.compile(r"\d+")
_TOK_RE = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")


def ngrams(text: str, word_n: int = 2, char: tuple[int, int] = (2, 5)) -> tuple[list, list]:
    """Word 1..word_n-grams and character n-grams (word boundaries as spaces) of a normalised
    text (URLs, @-mentions and digits collapsed, lower case). Character n-grams suit tweets with
    typos ("refnd", "cancelld")."""
    low = _NUM_RE.sub("0", MENTION_RE.sub(" @user ", _URL_RE.sub(" url ", text))).lower()
    toks = _TOK_RE.findall(low)
    words = list(toks)
    for n in range(2, word_n + 1):
        words += [" ".join(toks[i:i + n]) for i in range(len(toks) - n + 1)]
    s = " " + " ".join(low.split()) + " "
    chars = [s[i:i + n] for n in range(char[0], char[1] + 1) for i in range(len(s) - n + 1)]
    return words, chars


def hashed_rows(texts: Sequence[str], word_n: int = 2, char: tuple[int, int] = (2, 5)):
    """CSR-like (indptr, hash ids, values): binary word and char blocks, each L2-normalised."""
    mask = (1 << HASH_BITS) - 1
    indptr, ids, vals = [0], [], []
    for text in texts:
        row: dict[int, float] = {}
        for prefix, grams in zip(("w:", "c:"), ngrams(str(text or ""), word_n, char)):
            keys = {zlib.crc32((prefix + g).encode("utf-8")) & mask for g in grams}
            if keys:
                v = 1.0 / math.sqrt(len(keys))
                for key in keys:
                    row[key] = row.get(key, 0.0) + v
        ids.extend(row)
        vals.extend(row.values())
        indptr.append(len(ids))
    return (np.asarray(indptr, dtype=np.int64), np.asarray(ids, dtype=np.int64),
            np.asarray(vals, dtype=float))


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def lbfgs(f, x, iters: int = 150, m: int = 10, tol: float = 1e-6):
    """Minimise f (returns value, gradient) from x: L-BFGS with backtracking (Armijo)."""
    fx, g = f(x)
    hist: list[tuple] = []
    for _ in range(iters):
        q = g.copy()
        alphas = []
        for s, y in reversed(hist):
            rho = 1.0 / (y @ s)
            a = rho * (s @ q)
            q -= a * y
            alphas.append((rho, a, s, y))
        if hist:
            s, y = hist[-1]
            q *= (s @ y) / (y @ y)
        for rho, a, s, y in reversed(alphas):
            q += s * (a - rho * (y @ q))
        d = -q
        gd = g @ d
        if gd >= 0:
            d, gd, hist = -g, -(g @ g), []
        t = 1.0
        while True:
            xn = x + t * d
            fn, gn = f(xn)
            if fn <= fx + 1e-4 * t * gd or t < 1e-10:
                break
            t *= 0.5
        s, y = xn - x, gn - g
        if s @ y > 1e-12:
            hist = (hist + [(s, y)])[-m:]
        converged = fx - fn < tol * max(1.0, abs(fx))
        x, fx, g = xn, fn, gn
        if converged:
            break
    return x


class NgramLR:
    """L2 logistic regression over hashed word + character n-grams. Only hash ids seen in
    training carry a weight (``cols`` sorted, ``w`` aligned); ``b`` is the intercept."""

    def __init__(self, cols, w, b: float, word_n: int = 2, char=(2, 5), C: float = 10.0):
        self.cols, self.w, self.b = np.asarray(cols), np.asarray(w, dtype=float), float(b)
        self.word_n, self.char, self.C = int(word_n), tuple(char), float(C)

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[bool], *, C: float = 10.0,
            word_n: int = 2, char=(2, 5), iters: int = 150, rows=None) -> "NgramLR":
        indptr, ids, vals = rows if rows is not None else hashed_rows(texts, word_n, char)
        cols, idx = np.unique(ids, return_inverse=True)
        n, d = len(indptr) - 1, len(cols)
        r = np.repeat(np.arange(n), np.diff(indptr))
        y = np.asarray(labels, dtype=float)

        def f(theta):
            w, b = theta[:d], theta[d]
            z = np.bincount(r, weights=vals * w[idx], minlength=n) + b
            g = sigmoid(z) - y
            loss = np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 / C * (w @ w)
            grad = np.empty_like(theta)
            grad[:d] = np.bincount(idx, weights=vals * g[r], minlength=d) + w / C
            grad[d] = g.sum()
            return loss, grad

        theta = lbfgs(f, np.zeros(d + 1), iters)
        return cls(cols, theta[:d], theta[d], word_n, char, C)

    def decision(self, texts: Sequence[str] = (), rows=None) -> np.ndarray:
        indptr, ids, vals = rows if rows is not None else hashed_rows(texts, self.word_n,
                                                                      self.char)
        n = len(indptr) - 1
        pos = np.clip(np.searchsorted(self.cols, ids), 0, max(len(self.cols) - 1, 0))
        known = (self.cols[pos] == ids) if len(self.cols) else np.zeros(len(ids), bool)
        r = np.repeat(np.arange(n), np.diff(indptr))
        return np.bincount(r[known], weights=vals[known] * self.w[pos[known]],
                           minlength=n) + self.b

    def predict(self, texts: Sequence[str] = (), rows=None) -> np.ndarray:
        return sigmoid(self.decision(texts, rows))

    def save(self, path: Path) -> None:
        np.savez_compressed(path, cols=self.cols.astype(np.int64), w=self.w.astype(np.float32),
                            b=np.array([self.b]), word_n=np.array([self.word_n]),
                            char=np.array(self.char), C=np.array([self.C]))

    @classmethod
    def load(cls, path: Path) -> "NgramLR":
        z = np.load(path)
        return cls(z["cols"], z["w"], float(z["b"][0]), int(z["word_n"][0]),
                   tuple(int(c) for c in z["char"]), float(z["C"][0]))


def subset_rows(rows, index: Sequence[int]):
    """Rows ``index`` of a (indptr, ids, vals) matrix."""
    indptr, ids, vals = rows
    index = np.asarray(index, dtype=np.int64)
    starts, ends = indptr[index], indptr[index + 1]
    lens = ends - starts
    take = np.repeat(starts - np.r_[0, np.cumsum(lens)[:-1]], lens) + np.arange(lens.sum())
    return np.r_[0, np.cumsum(lens)].astype(np.int64), ids[take], vals[take]


# -- the embedding column ------------------------------------------------------------------------

@dataclass(frozen=True)
class EmbeddingRidge:
    """Ridge regression of a 0/1 label on standardised encoder features (``embed.features``):
    ``decision(F) = ((F - mean) / scale) @ w + b``. Saved as ``embed.npz``."""

    mean: np.ndarray
    scale: np.ndarray
    w: np.ndarray
    b: float

    @classmethod
    def fit_path(cls, F: np.ndarray, y, alphas: Sequence[float]) -> dict[float, "EmbeddingRidge"]:
        """One fit per ridge ``alpha``, all from one SVD of the standardised rows."""
        F = np.asarray(F, dtype=float)
        t = np.asarray(y, dtype=float)
        mean = F.mean(0)
        scale = F.std(0) + 1e-6
        u, sv, vt = np.linalg.svd((F - mean) / scale, full_matrices=False)
        uy = u.T @ (t - t.mean())
        return {a: cls(mean, scale, vt.T @ (sv / (sv * sv + a) * uy), float(t.mean()))
                for a in alphas}

    def decision(self, F: np.ndarray) -> np.ndarray:
        return ((np.asarray(F, dtype=float) - self.mean) / self.scale) @ self.w + self.b

    def save(self, path: Path) -> None:
        np.savez(path, mean=self.mean, scale=self.scale, w=self.w, b=np.float64(self.b))

    @classmethod
    def load(cls, path: Path) -> "EmbeddingRidge":
        with np.load(path, allow_pickle=False) as z:
            return cls(z["mean"], z["scale"], z["w"], float(z["b"]))
