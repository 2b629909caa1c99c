"""Trained text classifiers: a spaCy ``textcat`` (``spacy.TextCatBOW.v3``), a hashed word +
character n-gram logistic regression (numpy), and the stacked model ``tiergate train`` saves.

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
``TextClassifier.load`` returns the right class; all answer ``predict_positive(texts)``.
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

from tiergate.plugin.core.errors import ConfigError

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
    import spacy
    from spacy.training import Example
    from spacy.util import fix_random_seed, minibatch

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


class TextClassifier:
    """Wraps a trained pipeline: ``predict_positive(texts)``, ``predict_cats(texts)``."""

    def __init__(self, nlp, positive: str = POSITIVE, meta: dict | None = None):
        self.nlp = nlp
        self.positive = positive
        self.meta = meta or {}

    @classmethod
    def load(cls, path: str | Path) -> "TextClassifier":
        import spacy

        path = Path(path)
        meta = {}
        if (path / META).exists():
            meta = json.loads((path / META).read_text(encoding="utf-8"))
        if meta.get("kind") == "ladder":
            return LadderClassifier.from_folder(meta, path)
        nlp = spacy.load(path)
        if meta.get("kind") == "stacked":
            return StackedClassifier.from_folder(nlp, meta.get("positive_label", POSITIVE),
                                                 meta, path)
        return cls(nlp, meta.get("positive_label", POSITIVE), meta)

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


# -- the stacked model `tiergate train` saves ---------------------------------------------------

class StackedClassifier(TextClassifier):
    """``tiergate train``'s model: a logistic regression (``stack.npy``) over the rule signals of
    the out-of-the-box enricher (default keywords, built inside the model), the textcat's
    probability, the n-gram regression's logit (``ngram.npz``) and, when ``embedding`` is set,
    the output of the ridge regression on the encoder features (``embed.npz``). Same interface
    as ``TextClassifier``; ``predict_positive`` returns the stacked probability."""

    def __init__(self, nlp, positive: str, meta: dict, ngram: NgramLR, weights, tags,
                 embedding: EmbeddingRidge | None = None):
        super().__init__(nlp, positive, meta)
        self.ngram = ngram
        self.weights = np.asarray(weights, dtype=float)
        self.tags = list(tags)
        self.embedding = embedding
        self._rules = None

    def rules(self):
        if self._rules is None:
            from tiergate.nlp.enrich import Enricher

            self._rules = Enricher(None)
        return self._rules

    def features(self, texts: Sequence[str]) -> np.ndarray:
        from tiergate.nlp import stack

        texts = [str(t or "") for t in texts]
        tc = self.textcat_positive(texts)
        x = stack.model_features(texts, self.rules(), self.tags, tc, self.ngram.decision(texts))
        if self.embedding is not None:
            from tiergate.nlp import embed

            x = np.c_[x, self.embedding.decision(embed.features(texts))]
        return x

    def predict_positive(self, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        from tiergate.nlp import stack

        return [float(p) for p in stack.predict_logistic(self.weights, self.features(texts))]

    def predict_cats(self, texts: Sequence[str], batch_size: int = 512) -> list[dict[str, float]]:
        neg = next((lb for lb in self.meta.get("labels", []) if lb != self.positive), NEGATIVE)
        return [{self.positive: p, neg: 1.0 - p} for p in self.predict_positive(texts)]

    def save(self, path: str | Path, **meta) -> None:
        path = Path(path)
        if self.embedding is not None:
            from tiergate.nlp import embed

            meta = {"embedding_model": embed.MODEL_NAME,
                    "embedding_layers": list(embed.FEATURE_LAYERS), **meta}
        super().save(path, kind="stacked", tags=self.tags, **meta)
        self.ngram.save(path / NGRAM_FILE)
        np.save(path / STACK_FILE, self.weights)
        for old in (OLD_EMBED_FILE, EMBED_FILE):    # an older model saved into the same folder
            if (path / old).exists():
                (path / old).unlink()
        if self.embedding is not None:
            self.embedding.save(path / EMBED_FILE)

    @classmethod
    def from_folder(cls, nlp, positive: str, meta: dict, path: Path) -> "StackedClassifier":
        if (path / OLD_EMBED_FILE).exists():
            raise ConfigError(
                f"{path}: {OLD_EMBED_FILE} is the sentence-embedding column of an older tiergate; "
                "retrain the model with `tiergate train`")
        embedding = None
        if (path / EMBED_FILE).exists():
            from tiergate.nlp import embed

            try:
                embed.require()
            except embed.EmbeddingsUnavailable as exc:
                raise embed.EmbeddingsUnavailable(
                    f"{path}: this model uses sentence embeddings ({EMBED_FILE}); {exc}") from None
            embedding = EmbeddingRidge.load(path / EMBED_FILE)
            layers = tuple(meta.get("embedding_layers", ()))
            if layers != embed.FEATURE_LAYERS:
                raise ConfigError(
                    f"{path}: embedding_layers {list(layers)} in {META}; this tiergate reads "
                    f"{list(embed.FEATURE_LAYERS)}; retrain the model with `tiergate train`")
        return cls(nlp, positive, meta, NgramLR.load(path / NGRAM_FILE),
                   np.load(path / STACK_FILE), meta.get("tags", []), embedding)


class LadderClassifier:
    """A model of graded history (``tiergate train`` with ``level`` 0..N): one
    ``StackedClassifier`` per threshold (``steps[i]`` answers "level >= thresholds[i]"), and a
    logistic regression (``ladder.npy``) over the rule signals once and every step's model
    columns (textcat probability, n-gram logit, embedding output), fit on the top threshold.
    ``predict_positive`` = the probability of reaching the top level; ``steps[0]`` is the
    "escalated at all" model."""

    def __init__(self, steps: Sequence[StackedClassifier], thresholds: Sequence[int], weights,
                 meta: dict | None = None):
        self.steps = list(steps)
        self.thresholds = [int(t) for t in thresholds]
        self.weights = np.asarray(weights, dtype=float)
        self.meta = meta or {}
        tags = {tuple(s.tags) for s in self.steps}
        if len(tags) != 1 or len(self.steps) != len(self.thresholds):
            raise ConfigError("ladder: every step must share the rule tags, one per threshold")

    @property
    def rule_width(self) -> int:
        from tiergate.nlp.stack import RULE_SIGNALS

        return len(RULE_SIGNALS) + len(self.steps[0].tags)

    def join(self, step_features: Sequence[np.ndarray]) -> np.ndarray:
        """The ladder's columns from each step's own features (rule part taken once)."""
        r = self.rule_width
        return np.c_[step_features[0], *[x[:, r:] for x in step_features[1:]]]

    def predict_positive(self, texts: Sequence[str]) -> list[float]:
        return self.predict_steps(texts)[0]

    def predict_steps(self, texts: Sequence[str]) -> tuple[list[float], list[list[float]]]:
        """(the probability of the top level, each step's own probability), every step's
        features computed once."""
        if not texts:
            return [], [[] for _ in self.steps]
        from tiergate.nlp import stack

        rules = self.steps[0].rules()
        for step in self.steps[1:]:
            step._rules = rules         # one spaCy pipeline for all steps
        feats = [s.features(texts) for s in self.steps]
        top = stack.predict_logistic(self.weights, self.join(feats))
        return ([float(p) for p in top],
                [[float(p) for p in stack.predict_logistic(s.weights, x)]
                 for s, x in zip(self.steps, feats)])

    def textcat_positive(self, texts: Sequence[str]) -> list[float]:
        """The top step's textcat probability alone."""
        return self.steps[-1].textcat_positive(texts)

    def save(self, path: str | Path, **meta) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for t, step in zip(self.thresholds, self.steps):
            step.save(path / f"level{t}", threshold=t)
        np.save(path / LADDER_FILE, self.weights)
        self.meta = {"kind": "ladder", "thresholds": self.thresholds,
                     "positive_label": POSITIVE, **meta}
        (path / META).write_text(json.dumps(self.meta, indent=2), encoding="utf-8")

    @classmethod
    def from_folder(cls, meta: dict, path: Path) -> "LadderClassifier":
        thresholds = meta.get("thresholds") or []
        missing = [f"level{t}" for t in thresholds if not (path / f"level{t}" / META).exists()]
        if not thresholds or missing or not (path / LADDER_FILE).exists():
            raise ConfigError(f"{path}: incomplete ladder model (missing "
                              f"{', '.join(missing) or LADDER_FILE}); retrain with "
                              "`tiergate train`")
        steps = [TextClassifier.load(path / f"level{t}") for t in thresholds]
        return cls(steps, thresholds, np.load(path / LADDER_FILE), meta)
