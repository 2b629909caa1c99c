"""``paused_gc``: pause Python's cyclic garbage collector while a batch is enriched.

Used by ``Enricher.analyse`` / ``Enricher.score_many`` (``nlp/enrich.py``). Kept apart from
``nlp/pipeline.py`` so that importing it does not import spaCy.
"""
from __future__ import annotations

import gc


class paused_gc:
    """``with paused_gc():`` pauses Python's cyclic garbage collector for a batch.

    Enriching a batch allocates many small acyclic objects (token lists, Signals, TextScores,
    Enrichments; reference counting frees them), and each allocation burst triggers collector
    passes that also walk the ~100k long-lived objects of the pipeline (lemma table, lexicon):
    up to a third of the batch time. Nested uses are no-ops; the collector is re-enabled by the
    use that paused it, and collects whatever cycles the batch left behind as usual afterwards.
    """

    __slots__ = ("was_enabled",)

    def __enter__(self):
        self.was_enabled = gc.isenabled()
        if self.was_enabled:
            gc.disable()
        return self

    def __exit__(self, *exc) -> None:
        if self.was_enabled:
            gc.enable()
