"""The language of a customer's text, by py3langid (its model ships inside the wheel).

    detect_language("Guten Tag, unser Team kann nicht arbeiten")  # -> Language("de", 0.99)

``SUPPORTED`` are the languages the risk detector and the sentiment read; a confident other
language is reported as such, and a text too short to tell (a few words, only numbers) is
``und`` (undetermined), which callers treat as English plus every supported language's patterns.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from py3langid.langid import MODEL_FILE, LanguageIdentifier

SUPPORTED = ("en", "de", "es", "fr", "pt")
# the candidates: the supported languages plus those customers of a European or American desk
# write most often (restricting the set makes short texts far more reliable)
CANDIDATES = ("en", "de", "es", "fr", "pt", "it", "nl", "pl", "sv", "da", "no", "fi", "tr",
              "ru", "uk", "cs", "ro", "hu", "el", "ja", "zh", "ko", "ar", "he", "hi", "id",
              "vi", "th", "ca")
MIN_LETTERS = 12
MIN_CONFIDENCE = 0.80
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
_LOCK = threading.Lock()
_IDENTIFIER: LanguageIdentifier | None = None


@dataclass(frozen=True)
class Language:
    code: str                 # ISO 639-1, or "und"
    confidence: float

    @property
    def supported(self) -> bool:
        return self.code in SUPPORTED or self.code == "und"


def _identifier() -> LanguageIdentifier:
    global _IDENTIFIER
    with _LOCK:
        if _IDENTIFIER is None:
            ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            ident.set_languages(list(CANDIDATES))
            _IDENTIFIER = ident
        return _IDENTIFIER


def detect_language(text: str) -> Language:
    sample = (text or "")[:4000]
    if len(_LETTERS.findall(sample)) < MIN_LETTERS:
        return Language("und", 0.0)
    code, prob = _identifier().classify(sample)
    prob = float(prob)
    if prob < MIN_CONFIDENCE:
        return Language("und", round(prob, 3))
    return Language(str(code), round(prob, 3))
