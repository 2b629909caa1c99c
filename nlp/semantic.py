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
    m.scores(["we got billed two times"])   # per sentence: {tag: (similarity, nearest
                                            #   near-miss similarity, nearest example)}
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
        self._examples: list[list[str]] = []        # per tag, its positive examples
        every = [s for pos, neg in examples.values() for s in (*pos, *(neg or ())) if s]
        # static vectors share a large common direction (any two sentences look alike); the
        # centroid of every example sentence is taken out so similarity reads the topic
        self.centre = encoder.encode(every).mean(0) if every else np.zeros(encoder.dim,
                                                                            np.float32)
        positives: list[str] = []
        negatives: list[str] = []
        pos_starts: list[int] = []
        neg_starts: list[int] = []
        neg_tags: list[int] = []                    # the tags that have negatives
        for tag, (pos, neg) in examples.items():
            pos = [p for p in pos if p and p.strip()]
            if not pos:
                continue
            neg = [n for n in (neg or ()) if n and n.strip()]
            if neg:
                neg_tags.append(len(self.tags))
                neg_starts.append(len(negatives))
                negatives.extend(neg)
            self.tags.append(tag)
            self._examples.append(pos)
            pos_starts.append(len(positives))
            positives.extend(pos)
        # every tag's examples in one matrix: one product per batch, then one segmented max
        self._pos = self.encode(positives) if positives else None
        self._neg = self.encode(negatives) if negatives else None
        self._pos_starts = np.asarray(pos_starts, np.intp)
        self._neg_starts = np.asarray(neg_starts, np.intp)
        self._neg_tags = np.asarray(neg_tags, np.intp)
        self._pos_ends = np.append(self._pos_starts[1:], len(positives)).astype(np.intp)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        v = self.encoder.encode(texts) - self.centre
        return v / np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-9, None)

    def scores(self, sentences: Sequence[str]) -> list[dict[str, tuple[float, float, str]]]:
        """Per sentence: {tag: (similarity to the nearest positive, to the nearest negative or
        -1.0 for a tag without negatives, that positive example)} for the tags whose nearest
        positive is at least as close as their nearest negative."""
        if not sentences or not self.tags:
            return [{} for _ in sentences]
        vecs = self.encode(sentences)
        all_pos = vecs @ self._pos.T
        top = np.maximum.reduceat(all_pos, self._pos_starts, axis=1)
        near = np.full(top.shape, -1.0, np.float32)
        if self._neg is not None:
            near[:, self._neg_tags] = np.maximum.reduceat(vecs @ self._neg.T, self._neg_starts,
                                                          axis=1)
        out: list[dict[str, tuple[float, float, str]]] = [{} for _ in sentences]
        for i, t in zip(*np.nonzero(top >= near)):
            a, b = self._pos_starts[t], self._pos_ends[t]
            out[i][self.tags[t]] = (float(top[i, t]), float(near[i, t]),
                                    self._examples[t][int(all_pos[i, a:b].argmax())])
        return out
