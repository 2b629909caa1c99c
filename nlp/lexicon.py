"""Sentiment lexicon: VADER's word valences (MIT, shipped in the ``vaderSentiment`` wheel) applied
to spaCy tokens in one cheap pass, plus a small support-domain adjustment table.

VADER's own ``polarity_scores`` re-tokenises every sentence in pure Python and costs more than the
whole rest of the pipeline. Here the same ingredients (lexicon valence, boosters, negation in the
three preceding tokens, capitals emphasis, "but" weighting, "!" emphasis, normalisation
``x / sqrt(x² + 15)``) are applied to the tokens spaCy already made, per sentence.
"""
from __future__ import annotations

import math
import os
from functools import lru_cache

import vaderSentiment

from tiergate.nlp.lemmas import lemma_lookup

# VADER constants (vaderSentiment.vaderSentiment, MIT); copied so the module import stays cheap.
B_INCR = 0.293
B_DECR = -0.293
C_INCR = 0.733
N_SCALAR = -0.74
ALPHA = 15.0

NEGATE = frozenset("""aint arent cannot cant couldnt darent didnt doesnt ain't aren't can't couldn't
daren't didn't doesn't dont hadnt hasnt havent isnt mightnt mustnt neither don't hadn't hasn't
haven't isn't mightn't mustn't neednt needn't never none nope nor not nothing nowhere oughtnt
shant shouldnt uhuh wasnt werent oughtn't shan't shouldn't uh-uh wasn't weren't without wont
wouldnt won't wouldn't rarely seldom despite n't no""".split())

# Support-domain valence overrides: politeness words that VADER scores positive but that in a
# support request carry no sentiment, and problem words VADER lacks or under-weights.
DOMAIN_VALENCE = {
    "help": 0.0, "please": 0.0, "pls": 0.0, "plz": 0.0, "ok": 0.0, "okay": 0.0, "sorry": -0.3,
    "yes": 0.0, "want": 0.0, "like": 0.0, "true": 0.0, "care": 0.0, "customer": 0.0,
    "delayed": -1.5, "delay": -1.3, "delays": -1.3, "late": -1.2, "cancelled": -1.5,
    "canceled": -1.5, "waiting": -0.8, "wait": -0.6, "stuck": -1.5, "missing": -1.5,
    "lost": -1.5, "broken": -2.1, "outage": -2.0, "down": -0.5, "error": -1.5, "errors": -1.5,
    "crash": -1.7, "crashes": -1.7, "crashed": -1.7, "crashing": -1.7, "refund": -0.5,
    "overcharged": -2.0, "unusable": -2.3, "unresponsive": -1.8, "hold": -0.5,
    "rude": -2.0, "ignored": -1.5, "ignoring": -1.5, "useless": -2.0, "worst": -3.1,
    "rubbish": -2.0, "a-holes": -2.5, "debacle": -2.0, "shambles": -2.0, "farce": -2.0,
    "slow": -1.0, "slower": -1.0, "refused": -1.5, "refuse": -1.2, "refuses": -1.2,
    "scam": -2.5, "scamming": -2.5, "scammed": -2.5, "joke": -1.0, "discriminates": -2.0,
    "overpriced": -1.5, "incompetent": -2.3, "clueless": -1.5, "pathetic": -2.5,
    "nobody": -0.8, "never": 0.0, "no": 0.0, "again": -0.3, "still": -0.3, "yet": -0.2,
    # defect and misconduct words VADER lacks (malfunction, blame, disrepair)
    "bug": -1.2, "bugs": -1.2, "buggy": -1.5, "glitch": -1.2, "glitches": -1.2,
    "glitchy": -1.5, "unreliable": -1.8, "malfunction": -1.5, "malfunctioning": -1.5,
    "lacking": -1.0, "ripoff": -2.5, "disrespectful": -2.0, "nightmare": -2.0,
    "garbage": -1.8, "stole": -2.2, "misled": -1.8, "negligent": -2.0, "expired": -1.0,
    "unhelpful": -1.5, "inaccurate": -1.2, "invalid": -0.8, "substandard": -1.8,
    "shortchanged": -1.8, "overcharge": -2.0,
}


@lru_cache(maxsize=1)
def vader_tables() -> tuple[dict[str, float], dict[str, float]]:
    """(lexicon word -> valence, booster word -> increment), with domain overrides applied."""
    path = os.path.join(os.path.dirname(vaderSentiment.__file__), "vader_lexicon.txt")
    lexicon: dict[str, float] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2:
                try:
                    lexicon[parts[0]] = float(parts[1])
                except ValueError:
                    continue
    lexicon.update(DOMAIN_VALENCE)
    # inflected forms the lexicon lacks take their lemma's valence ("refunds", "crashes")
    for form, lemma in lemma_lookup().items():
        if form not in lexicon and lemma in lexicon and form.isalpha():
            lexicon[form] = lexicon[lemma]
    lexicon = {k: v for k, v in lexicon.items() if v != 0.0}
    boosters = dict(_BOOSTERS)
    return lexicon, boosters


_INC = ["absolutely", "amazingly", "awfully", "completely", "considerable", "considerably",
        "decidedly", "deeply", "effing", "enormous", "enormously", "entirely", "especially",
        "exceptional", "exceptionally", "extreme", "extremely", "fabulously", "flipping",
        "flippin", "frackin", "fracking", "fricking", "frickin", "frigging", "friggin", "fully",
        "fuckin", "fucking", "fuggin", "fugging", "greatly", "hella", "highly", "hugely",
        "incredible", "incredibly", "intensely", "major", "majorly", "more", "most",
        "particularly", "purely", "quite", "really", "remarkably", "so", "substantially",
        "thoroughly", "total", "totally", "tremendous", "tremendously", "uber", "unbelievably",
        "unusually", "utter", "utterly", "very"]
_DEC = ["almost", "barely", "hardly", "just enough", "kind of", "kinda", "kindof", "kind-of",
        "less", "little", "marginal", "marginally", "occasional", "occasionally", "partly",
        "scarce", "scarcely", "slight", "slightly", "somewhat", "sort of", "sorta", "sortof",
        "sort-of"]
_BOOSTERS = {**{w: B_INCR for w in _INC}, **{w: B_DECR for w in _DEC}}


def normalize(score: float) -> float:
    """VADER's squashing of a summed valence into -1..1."""
    if score == 0.0:
        return 0.0
    value = score / math.sqrt(score * score + ALPHA)
    return max(-1.0, min(1.0, value))


def sentence_score(words: list[str], upper: list[bool], any_lower: bool,
                   lexicon: dict[str, float], boosters: dict[str, float],
                   exclaims: int = 0) -> tuple[float, int]:
    """VADER-style compound for one sentence of lower-cased tokens.

    Returns (compound, number of sentiment-bearing words). ``upper[i]`` is whether the token was
    written in capitals; capitals only emphasise when the text is not all in capitals.
    """
    total = 0.0
    hits = 0
    but_at = -1
    for i, w in enumerate(words):
        if w == "but" and but_at < 0:
            but_at = i
    for i, w in enumerate(words):
        v = lexicon.get(w)
        if v is None:
            continue
        if w in boosters:
            continue
        hits += 1
        if upper[i] and any_lower:
            v += C_INCR if v > 0 else -C_INCR
        for back, decay in ((1, 1.0), (2, 0.95), (3, 0.9)):
            j = i - back
            if j < 0:
                break
            b = boosters.get(words[j])
            if b is not None:
                b = b if v > 0 else -b
                if upper[j] and any_lower:
                    b += C_INCR if v > 0 else -C_INCR
                v += b * decay
            if words[j] in NEGATE:
                v *= N_SCALAR
        if but_at >= 0:
            v *= 0.5 if i < but_at else (1.5 if i > but_at else 1.0)
        total += v
    if hits and exclaims:
        emph = min(exclaims, 4) * 0.292
        total += emph if total > 0 else -emph
    return normalize(total), hits
