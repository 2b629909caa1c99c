"""The offline sentence encoder and the example matcher of the semantic risk layer.

The encoder is a static table distilled from all-MiniLM-L6-v2 (``scripts/distill_static.py``,
the model2vec method: each WordPiece token's vector is the model's output for that token alone,
reduced by PCA and weighted by Zipf rank) and shipped inside the package as
``nlp/data/static_encoder.npz`` (3.8 MB, int8 rows). A sentence vector is the normalised mean of
its tokens' rows: no transformer runs at scoring time, so a ticket costs well under a
millisecond and nothing is downloaded.

    enc = StaticEncoder.load()
    enc.encode(["I was charged twice"])          # (1, 128) float32, L2-normalised
    m = ExampleMatcher(enc, {"billing": (["charged twice ..."], ["refund policy?"])})
    m.best(["we got billed two times"])         # per sentence: (tag, similarity, example)
"""
from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

DATA = Path(__file__).with_name("data") / "static_encoder.npz"
MAX_WORD = 100                      # characters; longer words are [UNK]
MAX_PIECES = 16                     # WordPiece: longest word split into at most this many
_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_LOCK = threading.Lock()
_ENCODER: "StaticEncoder | None" = None


class _StripMarks(dict):
    """``str.translate`` table dropping non-spacing marks (category Mn) and spelling ß as ss,
    filled on first use."""

    def __missing__(self, code: int) -> int | str | None:
        value = "ss" if code == 0xDF else None if unicodedata.category(chr(code)) == "Mn" else code
        if len(self) < 65536:
            self[code] = value
        return value


_STRIP_MARKS = _StripMarks()


def fold(text: str) -> str:
    """Lower case without accents (BERT-uncased normalisation), ß as ss: "Données" ->
    "donnees", "Straße" -> "strasse"."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFD", text.lower()).translate(_STRIP_MARKS)


class StaticEncoder:
    """Sentence vectors from the distilled token table."""

    def __init__(self, rows: np.ndarray, scale: np.ndarray, vocab: Sequence[str]):
        table = rows.astype(np.float32) * scale[:, None].astype(np.float32)
        self.table = table
        self.dim = table.shape[1]
        self.vocab = {tok: i for i, tok in enumerate(vocab)}
        self.unk = self.vocab.get("[UNK]", 100)
        self._pieces = lru_cache(maxsize=200_000)(self._word_pieces)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "StaticEncoder":
        global _ENCODER
        if path is None:
            with _LOCK:
                if _ENCODER is None:
                    _ENCODER = cls._from_file(DATA)
                return _ENCODER
        return cls._from_file(Path(path))

    @classmethod
    def _from_file(cls, path: Path) -> "StaticEncoder":
        with np.load(path, allow_pickle=False) as z:
            return cls(z["rows"], z["scale"], [str(t) for t in z["vocab"]])

    def _word_pieces(self, word: str) -> tuple[int, ...]:
        """Greedy longest-match-first WordPiece split of one (folded) word."""
        vocab = self.vocab
        if word in vocab:
            return (vocab[word],)
        if len(word) > MAX_WORD:          # as BERT: a very long "word" is unknown, not split
            return (self.unk,)
        out: list[int] = []
        start = 0
        while start < len(word) and len(out) < MAX_PIECES:
            end = len(word)
            piece = None
            while end > start:
                sub = word[start:end] if start == 0 else "##" + word[start:end]
                if sub in vocab:
                    piece = vocab[sub]
                    break
                end -= 1
            if piece is None:
                return (self.unk,)
            out.append(piece)
            start = end
        return tuple(out)

    def ids(self, text: str) -> list[int]:
        ids: list[int] = []
        for word in _WORD.findall(fold(text)):
            ids.extend(self._pieces(word))
        return ids

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One gather and one segmented sum for the whole batch (no per-text numpy calls)."""
        out = np.zeros((len(texts), self.dim), np.float32)
        flat: list[int] = []
        starts: list[int] = []
        rows: list[int] = []
        for i, text in enumerate(texts):
            ids = self.ids(text)
            if ids:
                rows.append(i)
                starts.append(len(flat))
                flat.extend(ids)
        if not flat:
            return out
        sums = np.add.reduceat(self.table[np.asarray(flat, np.intp)],
                               np.asarray(starts, np.intp), axis=0)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        out[rows] = sums / np.clip(norms, 1e-12, None)
        return out


class ExampleMatcher:
    """Each tag's example sentences (positives) and near-misses (negatives), encoded once;
    ``best`` gives, per sentence, every tag whose nearest positive is closer than its nearest
    negative, with that similarity and example."""

    def __init__(self, encoder: StaticEncoder,
                 examples: Mapping[str, tuple[Sequence[str], Sequence[str]]]):
        self.encoder = encoder
        self.tags: list[str] = []
        # per tag: its positive examples and the rows they and its negatives take in the two
        # matrices below (every tag's examples in one matrix: one product per batch, sliced)
        self._spans: list[tuple[list[str], tuple[int, int], tuple[int, int] | None]] = []
        every = [s for pos, neg in examples.values() for s in (*pos, *(neg or ())) if s]
        # static vectors share a large common direction (any two sentences look alike); the
        # centroid of every example sentence is taken out so similarity reads the topic
        self.centre = encoder.encode(every).mean(0) if every else np.zeros(encoder.dim,
                                                                            np.float32)
        positives: list[str] = []
        negatives: list[str] = []
        for tag, (pos, neg) in examples.items():
            pos = [p for p in pos if p and p.strip()]
            if not pos:
                continue
            neg = [n for n in (neg or ()) if n and n.strip()]
            self.tags.append(tag)
            self._spans.append((pos, (len(positives), len(positives) + len(pos)),
                                (len(negatives), len(negatives) + len(neg)) if neg else None))
            positives.extend(pos)
            negatives.extend(neg)
        self._pos = self.encode(positives) if positives else None
        self._neg = self.encode(negatives) if negatives else None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        v = self.encoder.encode(texts) - self.centre
        return v / np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-9, None)

    def scores(self, sentences: Sequence[str]) -> list[dict[str, tuple[float, float, str]]]:
        """Per sentence: {tag: (similarity to the nearest positive, to the nearest negative,
        that positive example)}."""
        if not sentences or not self.tags:
            return [{} for _ in sentences]
        vecs = self.encode(sentences)
        out: list[dict[str, tuple[float, float, str]]] = [{} for _ in sentences]
        all_pos = vecs @ self._pos.T
        all_neg = vecs @ self._neg.T if self._neg is not None else None
        rows = np.arange(len(sentences))
        for tag, (ptexts, (p0, p1), nspan) in zip(self.tags, self._spans):
            sims = all_pos[:, p0:p1]
            best = sims.argmax(1)
            top = sims[rows, best].tolist()
            nbest = (all_neg[:, nspan[0]:nspan[1]].max(1).tolist() if nspan is not None
                     else [-1.0] * len(sentences))
            for i, (b, p, n) in enumerate(zip(best.tolist(), top, nbest)):
                out[i][tag] = (p, n, ptexts[b])
        return out
