"""Enrichment of a whole ticket conversation: per-comment sentiment, trend, intensity, risk tags
(with negation and hedging), response delay, repeat contacts, customer value, an optional trained
model, combined into an attention score 0-100 whose ``reasons`` add up to it exactly (whole
points from the rules; one decimal once a trained model leads the text part).

    enricher = Enricher.from_manifest(manifest)        # once per process (builds spaCy)
    enrichment = enricher.enrich(ticket, now)            # -> tiergate.plugin.core.model.Enrichment
    enricher.score_text("I was charged twice!!!")        # one text, no conversation signals
    enricher.score_comments(["hi", "still waiting"])     # customer comments, oldest first

Weights live in ``tiergate.nlp.points`` and are listed in docs/nlp.md.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import re
import threading
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from tiergate.nlp import stacked
from tiergate.nlp.amounts import find_amounts
from tiergate.nlp.gcpause import paused_gc
from tiergate.nlp.language import detect_language
from tiergate.nlp.mood import MoodModel
from tiergate.nlp.pipeline import SIGNALS_KEY, build_nlp
from tiergate.nlp.points import (COMPLAINT_TAGS, DEFAULT_TAG_POINTS, NEGATIVE_AT, TAG_POINTS,
                                  WEIGHTS, conversation_reasons, model_reason, text_reasons)
from tiergate.nlp.points import risk_tags as tags_of_comments
from tiergate.nlp.reading import Conversation, Message, plain_apostrophes, read_conversation
from tiergate.nlp.risk import RiskDetector, keyword_kept
from tiergate.nlp.risk_rules import Findings
from tiergate.nlp.sentiment_intl import LANGUAGES as INTL_LANGUAGES, intl_blame, intl_sentiment
from tiergate.nlp.tagmodel import TONE_DATA, TagModel
from tiergate.nlp.textscore import TextScore
from tiergate.plugin.core.model import Enrichment, Reason, RiskTag, Ticket
from tiergate.plugin.core.stakes import find_stakes

log = logging.getLogger("tiergate.nlp")
_CAPS = re.compile(r"\b[A-Z][A-Z'’]+\b")

DEFAULT_KEYWORDS_PATH = Path(__file__).with_name("default_keywords.json")

TONE_MESSAGES = 4         # the latest customer messages the tone model reads
TONE_TIP = 0.5            # the tone model reads a complaint: tips a not clearly positive text
TONE_COMPLAINT = 0.9      # a negative text the tone model reads as a complaint this surely is one
CLOSING_CAP = 10          # attention score when the latest customer message closes the matter
UNKNOWN_LANGUAGE_POINTS = 20
RISK_THRESHOLD = 25       # shipped attention-score cut for "needs attention" (evaluation F1)
POSITIVE_AT = 0.3
COMPLAINT_TIP = 0.6       # below this a text with a problem tag reads negative ("thanks, still broken")
COMPLAINT_SENTIMENT = -0.3
BLAME_SENTIMENT = -0.05
CACHE_SIZE = 4096           # texts kept with their scores, at most
CACHE_CHARS = 4_000_000     # characters of them, at most
CACHED_CHARS = 20_000       # a longer text is never kept
_new_tuple = tuple.__new__
_FIRST = (0,)


def load_default_keywords() -> dict[str, tuple[str, ...]]:
    with open(DEFAULT_KEYWORDS_PATH, encoding="utf-8") as fh:
        data = json.load(fh)
    return {tag: tuple(phrases) for tag, phrases in data.items()}


def load_model(path: str | Path):
    """The trained model saved in ``path`` (``tiergate.nlp.stacked.load``); a stacked model's
    rule signals come from the out-of-the-box enricher (default keywords, no model)."""
    return stacked.load(path, make_rules=lambda: Enricher(None))


def sentiment_label(sentiment: float, tags: Iterable[str] | Mapping[str, Any] = (),
                    tone: float | None = None) -> str:
    """negative / neutral / positive: lexicon score, with problem tags, or the tone model reading
    a complaint (``tone`` >= ``TONE_TIP``), tipping a text that is not clearly positive (below
    ``COMPLAINT_TIP``) to negative; irony ("thanks for nothing", "love how ...") is negative
    whatever the lexicon says, since its praise words are what make the score positive."""
    if not isinstance(tags, (dict, set, frozenset)):
        tags = set(tags)
    if sentiment <= NEGATIVE_AT or (sentiment < COMPLAINT_TIP and (
            not COMPLAINT_TAGS.isdisjoint(tags) or (tone is not None and tone >= TONE_TIP))) \
            or "sarcasm" in tags:
        return "negative"
    if sentiment >= POSITIVE_AT:
        return "positive"
    return "neutral"


class Enricher:
    """Builds the spaCy pipeline once; ``enrich`` is cheap and thread-safe."""

    def __init__(self, keywords: Mapping[str, Sequence[str]] | None = None,
                 model_path: str | None = None, risk_tags: Mapping[str, Any] | None = None,
                 thresholds: Mapping[str, float] | None = None):
        if not keywords:
            keywords = load_default_keywords()
        self.keywords = {str(t): tuple(str(p) for p in ps) for t, ps in dict(keywords).items()}
        self.nlp = build_nlp(self.keywords)
        self._signals_key = SIGNALS_KEY
        self.model = None
        self.model_path = model_path
        if model_path:
            self.model = load_model(model_path)
        self._cache: OrderedDict[str, TextScore] = OrderedDict()
        self._cached_chars = 0
        self._lock = threading.Lock()
        self.risk = RiskDetector.from_config(risk_tags, thresholds)
        self.tone = TagModel.load(TONE_DATA)
        self.mood = MoodModel.load()

    @classmethod
    def from_manifest(cls, manifest: Any) -> "Enricher":
        """From a loaded manifest (``.keywords``, ``.nlp_model``) or a plain dict of it."""
        if isinstance(manifest, Mapping):
            keywords = manifest.get("keywords")
            model = manifest.get("nlp_model") or (manifest.get("nlp") or {}).get("model")
            risk_tags = manifest.get("risk_tags")
            thresholds = (manifest.get("nlp") or {}).get("thresholds")
        else:
            keywords = getattr(manifest, "keywords", None)
            model = getattr(manifest, "nlp_model", None)
            risk_tags = getattr(manifest, "risk_tags", None)
            thresholds = getattr(manifest, "nlp_thresholds", None)
        if isinstance(model, Mapping):   # tolerate {"path": ...}
            model = model.get("path")
        return cls(keywords or None, model_path=str(model) if model else None,
                   risk_tags=risk_tags or None, thresholds=thresholds or None)

    # -- text level ---------------------------------------------------------------------------
    def analyse(self, texts: Sequence[str], batch_size: int = 256, *,
                keep: bool = True) -> list[TextScore]:
        """TextScore per text, in order; each distinct text is analysed once. ``keep``: read
        and fill the per-text cache (for the worker, which re-enriches a ticket on every
        update); bulk scoring of mostly new texts skips it."""
        out: list[TextScore | None] = [None] * len(texts)
        todo: dict[str, list[int]] = {}
        cache = self._cache if keep else {}
        with self._lock:
            for i, text in enumerate(texts):
                hit = cache.get(text)
                if hit is None:
                    todo.setdefault(text, []).append(i)
                else:
                    out[i] = hit
        if todo:
            fresh = list(todo)
            with paused_gc():   # acyclic temporaries only: no collector passes mid-batch
                docs = [self.nlp(fresh[0])] if len(fresh) == 1 else \
                    self.nlp.pipe(fresh, batch_size=batch_size)
                scores = [self._from_doc(doc, text) for doc, text in zip(docs, fresh)]
            for text, score in zip(fresh, scores):
                for i in todo[text]:
                    out[i] = score
            if keep:
                with self._lock:
                    for text, score in zip(fresh, scores):
                        if len(text) < CACHED_CHARS and text not in self._cache:
                            self._cache[text] = score
                            self._cached_chars += len(text)
                    while len(self._cache) > CACHE_SIZE or self._cached_chars > CACHE_CHARS:
                        self._cached_chars -= len(self._cache.popitem(last=False)[0])
        return out  # type: ignore[return-value]

    def _from_doc(self, doc, text: str) -> TextScore:
        sig = doc.user_data[self._signals_key]   # = doc._.tg, without the Underscore round trip
        return _new_tuple(TextScore, (
            round(sig.sentiment, 4), sig.sentence_count, sig.words,
            len(_CAPS.findall(text)) if sig.caps_pair else 0,
            sig.exclaims, sig.punct_runs, sig.blame, sig.context, sig.second_person,
            sig.phrases(text) if sig.risks else (),
            find_amounts(text) if sig.money_hint else {}))   # TextScore(...) minus its __new__

    def model_scores(self, texts: Sequence[str]) -> list[float | None]:
        if self.model is None:
            return [None] * len(texts)
        return self.model.predict_positive(texts)

    def complaint_tone(self, texts: Sequence[str], language: str) -> float | None:
        """How much the customer's latest words read like a complaint (the tone model,
        English only), or None."""
        if self.tone is None or language != "en":
            return None
        return float(self.tone.score_matrix(["\n".join(texts[-TONE_MESSAGES:])])[0, 0])

    # -- public API ---------------------------------------------------------------------------
    def score_text(self, text: str) -> Enrichment:
        return self.score_comments([text])

    def score_comments(self, comments: Sequence[str]) -> Enrichment:
        """Customer comments oldest first, without timestamps or customer data."""
        return self.score_many([list(comments)])[0]

    def score_many(self, conversations: Sequence[Sequence[str]], *, reading: bool = True
                   ) -> list[Enrichment]:
        """Batch form of ``score_comments`` (one ``nlp.pipe`` pass for all texts; the bulk path,
        so the per-text cache is left to ``enrich``). ``reading=False``: the keyword pipeline
        alone, without language, stakes and the risk detector (the rule features a trained
        model was fit on)."""
        with paused_gc():
            flat = [plain_apostrophes(str(t or "")) for conv in conversations
                    for t in (conv or [""])]
            scores = self.analyse(flat, keep=False)
            models = self.model_scores(["\n".join(str(t or "") for t in (conv or [""]))
                                        for conv in conversations]) \
                if self.model is not None else [None] * len(conversations)
            out, k = [], 0
            for conv, model in zip(conversations, models):
                n = len(conv) if conv else 1
                if not reading:
                    out.append(self._combine(_FIRST if n == 1 else range(n), scores[k:k + n],
                                             model))
                    k += n
                    continue
                texts = flat[k:k + n]
                read = Conversation(tuple(Message(i, "customer", t) for i, t in enumerate(texts)))
                out.append(self._read_and_combine(read, _FIRST if n == 1 else range(n), texts,
                                                  scores[k:k + n], model, (), None))
                k += n
        return out

    def enrich(self, ticket: Ticket, now: datetime) -> Enrichment:
        """The whole conversation of ``ticket`` at ``now`` -> Enrichment (pure apart from the
        text cache): read as a person would (``nlp.reading``), language, stakes, risk tags
        (``nlp.risk``), then the scores of the customer's own words."""
        conv = read_conversation(ticket, now)
        customer = conv.customer
        texts = [m.text for m in customer] or [""]
        indices = [m.index for m in customer] or [0]
        scores = self.analyse(texts)
        model = self.model_scores(["\n".join(texts)])[0] if self.model is not None else None
        return self._read_and_combine(conv, indices, texts, scores, model,
                                      conversation_reasons(ticket, now), now)

    def _read_and_combine(self, conv: Conversation, indices: Sequence[int], texts: list[str],
                          scores: Sequence[TextScore], model: float | None,
                          extra: Sequence[Reason], now: datetime | None) -> Enrichment:
        """Language, stakes and the risk detector over the customer's words, then the score."""
        language = detect_language("\n".join(texts[-3:]))
        scores = _in_language(scores, texts, language.code)
        stakes = find_stakes(texts, now)
        # a language the detector does not read yields no tags of its own but spam: the review
        found = self.risk.detect(conv, language.code, _impact(stakes)) if language.supported \
            else self.risk.unread_spam(conv)
        enrichment = self._combine(indices, scores, model_score=model, extra=extra, found=found,
                                   language=language, texts=texts,
                                   tone=None if found.all_well else
                                   self.complaint_tone(texts, language.code))
        label = enrichment.sentiment_label
        tags = {t.tag for t in enrichment.risk_tags}
        if self.mood is not None and language.code == "en" and "sarcasm" not in tags:
            label = self.mood.label(label, enrichment.sentiment, tags, enrichment.complaint,
                                    scores, "\n".join(texts[-TONE_MESSAGES:]))
        return dataclasses.replace(
            enrichment, sentiment_label=label,
            language=language.code, language_supported=language.supported,
            stakes={k: v for k, v in stakes.to_dict().items() if v not in (None, False)},
            closing=found.closing,
            auto_replies=tuple(m.index for m in conv.messages if m.auto_reply),
            settled_at=found.settled_at)

    # -- scoring ------------------------------------------------------------------------------
    def _combine(self, indices: Sequence[int], scores: Sequence[TextScore],
                 model_score: float | None = None,
                 extra: Sequence[Reason] = (), found: Findings | None = None,
                 language=None, texts: Sequence[str] = (),
                 tone: float | None = None) -> Enrichment:
        sents = [s.sentiment for s in scores]
        if len(sents) == 1:
            sentiment = sents[0] + 0.0   # as the weighted mean below: -0.0 -> 0.0
        else:
            weights = range(1, len(sents) + 1)
            sentiment = (sum(w * s for w, s in zip(weights, sents)) / sum(weights)) if sents \
                else 0.0
        if sentiment > 1.0:
            sentiment = 1.0
        elif sentiment < -1.0:
            sentiment = -1.0
        risk_tags, first_of, tag_reasons = tags_of_comments(indices, scores)
        if found is not None:
            risk_tags, first_of, tag_reasons = self._detected(risk_tags, found, language, texts)
        # sentiment alone makes a complaint only about a service matter (order, account,
        # delivery, ...): "this game is killing me" and banter ("you're an idiot") are not
        # complaints; a negative "you ..." still scores as blame below
        complaint = not COMPLAINT_TAGS.isdisjoint(first_of) or (
            sentiment <= BLAME_SENTIMENT and (any([s.context for s in scores]) or (
                tone is not None and tone >= TONE_COMPLAINT)))
        parts = text_reasons(sentiment, sents, tag_reasons, scores, complaint, tone)
        if model_score is not None:
            parts.append(model_reason(parts, model_score))
        for r in extra:
            parts.append(r if type(r.points) is float else
                         Reason(r.signal, float(r.points), r.detail))
        total = 0
        for part in parts:
            total += part.points
        total = round(total, 1) if model_score is not None else int(total)
        if found is not None and found.closing and total > CLOSING_CAP:
            parts.append(Reason("closing", float(CLOSING_CAP - total),
                                f'latest customer message closes the matter: '
                                f'"{_quote(found.closing_sentence)}"'))
            total = CLOSING_CAP
        if total > 100:
            parts.append(Reason("cap", float(round(100 - total, 1)),
                                "attention score is capped at 100"))
            total = 100
        return Enrichment(
            total, round(sentiment, 4), sentiment_label(sentiment, first_of, tone), complaint,
            risk_tags, tuple(parts),
            tuple(sents), round(sents[-1] - sents[0], 4) if len(sents) >= 2 else 0.0,
            _max_amounts(scores), None if model_score is None else round(float(model_score), 4))


    def _detected(self, keyword_tags: Sequence[RiskTag], found: Findings, language,
                  texts: Sequence[str] = ()) -> tuple[tuple[RiskTag, ...], Mapping[str, RiskTag], list[Reason]]:
        """The detector's hits (each with its sentence) join the keyword pipeline's tags; a
        keyword tag the detector defines counts only under its reading rules
        (``risk.keyword_kept``)."""
        owned = self.risk.by_name
        lang = language.code if language is not None else "en"
        tags = [t for t in keyword_tags if t.tag not in owned or keyword_kept(
            self.risk, t.tag, t.phrase, texts, lang, found)]
        if found.unhurried:        # "no rush, the deadline is end of January"
            tags = [t for t in tags if t.tag != "urgent"]
        details: dict[str, str] = {}
        points = dict(TAG_POINTS)
        for name, rule in owned.items():
            points[name] = rule.points
        for hit in found.hits:
            tags.append(RiskTag(hit.tag, _quote(hit.sentence), hit.comment_index))
            if hit.tag not in details:
                how = (f'pattern "{hit.detail}"' if hit.how == "pattern" else
                       f'read by the trained tag reader ({hit.detail})' if hit.how == "model"
                       else f'like "{hit.detail}" (similarity {hit.similarity:.2f})')
                details[hit.tag] = f'"{_quote(hit.sentence)}" in comment {hit.comment_index}, {how}'
        if found.auto_only:
            tags.append(RiskTag("auto_reply", "automatic reply"))
            points["auto_reply"] = 0
        elif not any((t or "").strip() for t in texts):
            tags.append(RiskTag("no_text", "no customer words to read"))
            details["no_text"] = "the customer's messages hold no words to read (empty, or only " \
                                 "markup or quoted mail): a person decides"
            points["no_text"] = UNKNOWN_LANGUAGE_POINTS
        elif language is not None and not language.supported:
            tags.append(RiskTag("unknown_language", f"{language.code} ({language.confidence:.2f})"))
            details["unknown_language"] = (f"written in a language the detector does not read: "
                                           f"{language.code} (confidence {language.confidence:.2f})")
            points["unknown_language"] = UNKNOWN_LANGUAGE_POINTS
        first_of: dict[str, RiskTag] = {}
        for t in tags:
            first_of.setdefault(t.tag, t)
        reasons: list[Reason] = []
        total = 0
        cap = WEIGHTS["tags_cap"]
        for tag in sorted(first_of, key=lambda t: -points.get(t, DEFAULT_TAG_POINTS)):
            pts = min(points.get(tag, DEFAULT_TAG_POINTS), cap - total)
            if pts <= 0:
                continue
            total += pts
            first = first_of[tag]
            reasons.append(Reason(f"risk:{tag}", float(pts), details.get(
                tag, f'"{first.phrase}" in comment {first.comment_index}')))
        if found.auto_only:
            reasons.append(Reason("risk:auto_reply", 0.0, "the customer's only messages are "
                                  "automatic replies (out of office): nothing to act on"))
        return tuple(tags), first_of, reasons


def _impact(stakes) -> str | None:
    """The words that state impact: many people or sites, the whole company, a large count."""
    if stakes.everyone or (stakes.people or 0) >= 10:
        return stakes.people_phrase
    if (stakes.scale or 0) >= 50:
        return stakes.scale_phrase
    return None


def _in_language(scores: Sequence[TextScore], texts: Sequence[str], lang: str
                 ) -> Sequence[TextScore]:
    """German, Spanish, French, Portuguese: the sentiment of their own lexicon (VADER's is
    English) and the negative sentences addressed to the company in their own words."""
    if lang not in INTL_LANGUAGES:
        return scores
    out = []
    for s, t in zip(scores, texts):
        blame, addressed = intl_blame(t, lang)
        out.append(s._replace(sentiment=intl_sentiment(t, lang), blame=blame,
                              second_person=addressed))
    return out


def _quote(text: str | None, limit: int = 200) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _max_amounts(scores: Sequence[TextScore]) -> dict[str, float]:
    if len(scores) == 1:
        return dict(scores[0].amounts) if scores[0].amounts else {}
    amounts: dict[str, float] = {}
    for score in scores:
        for kind, value in score.amounts.items():
            amounts[kind] = max(amounts.get(kind, 0.0), value)
    return amounts
