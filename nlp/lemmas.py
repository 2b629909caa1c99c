"""Lookup lemmas: spacy-lookups-data's ``en_lemma_lookup`` (WordNet-derived, permissive licence),
lower-cased, shared by the lemmatizer component and the sentiment lexicon's inflected forms."""
from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path

import spacy_lookups_data


@lru_cache(maxsize=1)
def lemma_lookup() -> dict[str, str]:
    """``en_lemma_lookup`` with lower-cased forms (the first lemma of a form wins)."""
    path = Path(spacy_lookups_data.__file__).parent / "data" / "en_lemma_lookup.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        raw = json.load(fh)
    out: dict[str, str] = {}
    for form, lemma in raw.items():
        out.setdefault(form.lower(), lemma.lower())
    return out
