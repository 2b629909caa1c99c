"""``TextScore``: what the pipeline reads in one text (sentiment, emphasis, blame, risk phrases,
amounts), cached per text by the enricher and turned into points by ``tiergate.nlp.points``."""
from __future__ import annotations

from typing import Mapping, NamedTuple


class TextScore(NamedTuple):
    """What the pipeline says about one text (cached per text)."""

    sentiment: float
    sentence_count: int
    words: int
    caps_words: int
    exclaims: int
    punct_runs: int
    blame: int
    context: int
    second_person: bool
    risks: tuple[tuple[str, str], ...]   # (tag, phrase) in text order; (tag, lower phrase) once
    amounts: Mapping[str, float]

    @property
    def shouting(self) -> bool:
        return self.caps_words >= 3 and self.caps_words >= 0.3 * max(1, self.words)
