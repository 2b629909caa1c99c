"""Risk detection on the conversation as read (``tiergate.nlp.reading``), in English, German,
Spanish, French and Portuguese.

A risk tag is defined by patterns per language (regular expressions over accent-folded lower
case text), near-miss patterns that cancel it in a sentence ("unless"), and example sentences
with near-miss negatives that the semantic layer (``tiergate.nlp.semantic``) matches sentences
against, with a calibrated similarity threshold per tag. Defaults: ``nlp/default_risk.json``;
the manifest's ``risk_tags`` section replaces or adds tags field by field.

Reading rules: only the customer's own words count (quotes, signatures, agent text removed);
the latest customer message weighs most: when it closes the matter ("thanks, that fixed it,
you can close this") no tag counts; a state tag (outage) does not count in a sentence that
reports it fixed or past ("was down last week, fine now") nor when the latest message says it
works again; an outage needs impact (people, sites, money, "nobody can") somewhere in the
customer's words.

    detector = RiskDetector.from_config(manifest_risk_tags_or_None)
    found = detector.detect(conversation, language)   # -> Findings
"""
from __future__ import annotations

import re
from typing import Any, Callable, Mapping, Sequence

from tiergate.nlp.reading import Conversation
from tiergate.nlp.risk_reading import contrasted, has_explicit, in_quotes, negated, sentence_of
from tiergate.nlp.risk_rules import (Findings, Hit, TagRule, candidate_sets, compile_patterns,
                                     flat_phrases, langs_read, load_defaults, merge_config)
from tiergate.nlp.semantic import ExampleMatcher, StaticEncoder, fold
from tiergate.nlp.tagmodel import TagModel
from tiergate.plugin.core.sentences import sentences
from tiergate.plugin.core.stakes import RECORDS_VERB, VENDORS_OWN

SET_SCAN_CHARS = 4000               # longer messages are scanned tag by tag (bounded DFA memory)
SEMANTIC_THRESHOLD = 0.70     # used for a tag with no calibrated threshold
NON_ENGLISH_EXTRA = 0.08      # the encoder is English: other languages need a closer match
SEMANTIC_MARGIN = 0.06        # nearest positive must beat the nearest negative by this much
CITED_IN_QUOTES = frozenset({"human_request", "legal", "churn", "cancel_request"})
# incidents a message can describe as a scenario ("hypothetically, what if our data leaked?")
SCENARIO_TAGS = frozenset({"security", "privacy"})
# the reader mixes up data exposed (privacy) and an intrusion (security): its guess of one
# yields to a pattern of the other in the same message
READ_AS = {"security": "privacy", "privacy": "security"}
MESSAGES_READ = 4             # the latest customer messages the detector reads
SENTENCES_READ = 400          # the first sentences of a message read one by one (pasted logs)
VETO_WORDS = 40               # the customer's words the tag reader needs to overrule a pattern
UNREAD = "unread"             # a language the detector does not read: every language's patterns


class RiskDetector:
    def __init__(self, config: Mapping[str, Any], encoder: StaticEncoder | None = None,
                 tag_model: TagModel | None = None):
        self.rules: list[TagRule] = []
        examples: dict[str, tuple[list[str], list[str]]] = {}
        for name, spec in config["tags"].items():
            pats = spec.get("patterns") or {}
            kws = spec.get("keywords") or []
            if kws:
                pats = {**pats, "any": list(pats.get("any", [])) +
                        [r"\b" + re.escape(fold(k)) + r"\b" for k in kws]}
            rule = TagRule(name, int(spec.get("points", 10)), compile_patterns(pats),
                           compile_patterns(spec.get("unless")),
                           compile_patterns(spec.get("breakage")),
                           bool(spec.get("needs_impact")), bool(spec.get("state")),
                           spec.get("semantic", True) is not False, spec.get("threshold"),
                           spec.get("negatable", True) is not False, bool(spec.get("pipeline")),
                           spec.get("scope") == "message", spec.get("model", True) is not False,
                           spec.get("reader_veto"), compile_patterns(spec.get("message_unless")))
            self.rules.append(rule)
            if rule.semantic and spec.get("examples"):
                examples[name] = (flat_phrases(spec.get("examples")),
                                  flat_phrases(spec.get("negatives"))
                                  + flat_phrases(config.get("calm")))
        self._sets = candidate_sets(config["tags"])
        cues = config["cues"]
        self.cues = {k: compile_patterns(v) for k, v in cues.items()}
        self.encoder = encoder or StaticEncoder.load()
        self.matcher = ExampleMatcher(self.encoder, examples)
        self.by_name = {r.name: r for r in self.rules}
        self.message_rules = [r for r in self.rules if r.message]
        self.tag_model = tag_model if tag_model is not None else TagModel.load()
        self.model_tags = frozenset(r.name for r in self.rules if r.model) & frozenset(
            self.tag_model.tags if self.tag_model is not None else ())

    @classmethod
    def from_config(cls, manifest_risk_tags: Mapping[str, Any] | None = None,
                    thresholds: Mapping[str, float] | None = None) -> "RiskDetector":
        config = merge_config(load_defaults(), manifest_risk_tags)
        for tag, value in (thresholds or {}).items():
            if tag in config["tags"]:
                config["tags"][tag]["threshold"] = float(value)
        return cls(config)

    # -- matching ---------------------------------------------------------------------------
    def _model_hits(self, found: Findings, scores: Mapping[str, float],
                    sents: Sequence[tuple[int, str, str]], lang: str,
                    resolved_at: int | None, near: set[tuple[str, int]]) -> None:
        """Tags the patterns and examples missed that the trained tag reader finds in the
        customer's words, each quoted by the sentence that reads most like it; that sentence
        must reach the tag's threshold on its own (the whole text's score alone is not quoted
        evidence) and, for a state tag, pass the fixed-or-past reading and be no question; and
        no sentence of its message may read as the tag's near miss (the customer's own words
        already said what it is not: "we're very happy with the service" beside a budget
        meeting)."""
        missing = self.model_tags - {h.tag for h in found.hits}
        if not missing or not sents:
            return
        fired = self.tag_model.over_threshold(scores, missing)
        best = self.tag_model.best_sentences([s for _, s, _ in sents]) if fired else {}
        for tag, score, threshold in fired:
            rule = self.by_name[tag]
            at, alone = best[tag]
            idx, sent, low = sents[at]
            if alone < threshold:          # the quoted sentence must say it on its own
                found.dropped.append(f"{tag}: tag reader, no sentence says it on its own "
                                     f"(best {alone:.2f}): {sent!r}")
                continue
            if (tag, idx) in near or any(self._match(rule.unless, other, lang)
                                         for i, _, other in sents if i == idx):
                found.dropped.append(f"{tag}: tag reader, near miss: {sent!r}")
                continue
            if self._fixed_or_past(rule, low, lang, idx, resolved_at):
                found.dropped.append(f"{tag}: reported fixed or past: {sent!r}")
                continue
            if rule.state and sent.rstrip().endswith("?"):
                found.dropped.append(f"{tag}: tag reader, a question is no report: {sent!r}")
                continue
            twin = READ_AS.get(tag)
            if twin and any(h.tag == twin and h.how == "pattern" and h.comment_index == idx
                            for h in found.hits):
                found.dropped.append(f"{tag}: tag reader, the message's pattern reads it as "
                                     f"{twin}: {sent!r}")
                continue
            named = {h.tag for h in found.hits if h.how == "pattern" and h.sentence == sent
                     and not self.by_name[h.tag].needs_impact}
            if named:                      # a pattern already says what this sentence is
                found.dropped.append(f"{tag}: tag reader, the sentence reads as "
                                     f"{', '.join(sorted(named))}: {sent!r}")
                continue
            found.hits.append(Hit(tag, sent, idx, "model",
                                  f"score {score:.2f}, threshold {threshold:.2f}", round(score, 3)))

    def _fixed_or_past(self, rule: TagRule, low: str, lang: str, idx: int,
                       resolved_at: int | None) -> bool:
        """A state tag's sentence that reports the matter fixed or past, or that comes before
        the latest message which says it is resolved."""
        if not rule.state:
            return False
        fixed = self._cue("resolved", low, lang)
        return bool(
            fixed and not negated(low, fixed.start(), lang)
            or (self._cue("past", low, lang) and not self._cue("ongoing", low, lang))
            or (resolved_at is not None and idx < resolved_at))

    def _message_hit(self, rule: TagRule, msg, low_msg: str, lang: str) -> Hit | None:
        """A rule read over one whole message (its match may span sentences)."""
        m = self._match(rule.patterns, low_msg, lang)
        if m is None or self._match(rule.unless, low_msg, lang):
            return None
        return Hit(rule.name, sentence_of(msg.text, low_msg, m), msg.index, "pattern",
                   m.group(0).strip())

    def _cue(self, kind: str, text: str, lang: str,
             keep: Callable[[str, re.Match], bool] | None = None) -> re.Match | None:
        """The first match of a cue; with ``keep``, the first match it accepts."""
        for lg in langs_read(lang):
            for p in self.cues.get(kind, {}).get(lg, ()):
                if keep is None:
                    m = p.search(text)
                    if m:
                        return m
                    continue
                for m in p.finditer(text):
                    if keep(text, m):
                        return m
        return None

    def _reader_veto(self, found: Findings, scores: Mapping[str, float], text: str) -> None:
        """A pattern hit of a tag with ``reader_veto`` yields when the trained tag reader gives
        the customer's words almost nothing for that tag: a near miss the patterns did not
        foresee ("looks like a ransom note" of a font, a litigation lawyer's how-to). Only over
        ``VETO_WORDS`` words or more: a short message gives the reader too little to overrule
        "refund or I contact my lawyer"."""
        tags = {h.tag for h in found.hits if h.how == "pattern" and h.tag in self.model_tags
                and self.by_name[h.tag].reader_veto is not None}
        if not tags or len(text.split()) < VETO_WORDS:
            return
        weak = {t for t in tags if scores[t] < self.by_name[t].reader_veto}
        for t in sorted(weak):
            found.dropped.append(f"{t}: the tag reader scores the customer's words "
                                 f"{scores[t]:.3f}, under {self.by_name[t].reader_veto}")
        found.hits = [h for h in found.hits if not (h.tag in weak and h.how == "pattern")]

    def unread_spam(self, conv: Conversation) -> Findings:
        """Spam in a language the detector does not read: the spam patterns of every language
        it reads (SEO offers and crypto schemes borrow their words across languages); nothing
        else is read, so a real message still goes to a person."""
        found = Findings()
        rule = self.by_name.get("spam")
        if rule is None:
            return found
        msgs = list(conv.customer)[-MESSAGES_READ:]
        found.hits = [h for h in (self._message_hit(rule, m, fold(m.text), UNREAD) for m in msgs)
                      if h is not None]
        self._message_near_misses(found, msgs, UNREAD)
        return found

    def _message_near_misses(self, found: Findings, msgs, lang: str) -> None:
        """A tag's ``message_unless`` read over each message that carries a hit of it: "could
        someone call me?" in the subject of a message that asks for the call to book a training
        is a routine call, not a request for someone with authority."""
        for tag in sorted({h.tag for h in found.hits if self.by_name[h.tag].message_unless}):
            rule = self.by_name[tag]
            near = {m.index for m in msgs if any(h.tag == tag and h.comment_index == m.index
                                                 for h in found.hits)
                    and self._match(rule.message_unless, fold(m.text), lang)}
            if near:
                found.dropped.append(f"{tag}: the message reads as its near miss")
                found.hits = [h for h in found.hits if not (h.tag == tag
                                                            and h.comment_index in near)]

    def _impact(self, text: str, lang: str) -> str | None:
        """The words that state impact; a count that is the object of a records verb ("import
        our 23 employees") is data, not people affected."""
        m = self._cue("impact", text, lang, _not_records)
        return m.group(0) if m else None

    def _settled_at(self, conv: Conversation, lang: str) -> int | None:
        """The comment index of the last customer message before the latest that said the
        matter was solved ("works now, thanks", "you can close it"): what the customer writes
        after it is a new matter, and earlier contacts are not chasing."""
        for m in reversed(conv.customer[:-1]):
            low = fold(m.text)
            if self._cue("still_open", low, lang):
                continue
            said = self._cue("resolved", low, lang) or self._cue("closing", low, lang) or \
                self._cue("close_asked", low, lang)
            if said and not negated(low, said.start(), lang):
                return m.index
            if conv.agent_replied_before(m.index) and self._short_thanks(m.text, low, lang):
                return m.index             # a short thank-you after an agent's answer
        return None

    def _short_thanks(self, text: str, low: str, lang: str) -> re.Match | None:
        """The thanks of a short message (at most 400 characters, three sentences) with no
        problem or open request left in it ("Thanks, all good!"): it closes the matter it
        answers."""
        thanks = self._cue("gratitude", low, lang)
        if thanks and len(text) <= 400 and len(sentences(text)) <= 3 \
                and not self._cue("problem", low, lang) and not self._cue("still_open", low, lang):
            return thanks
        return None

    @staticmethod
    def _match(table: Mapping[str, list[re.Pattern]], text: str, lang: str) -> re.Match | None:
        for lg in (*langs_read(lang), "any"):
            for p in table.get(lg, ()):
                m = p.search(text)
                if m:
                    return m
        return None

    def _candidates(self, folded: str, lang: str) -> frozenset[str]:
        """The tags whose patterns match somewhere in a message (sentences are read only for
        these): one RE2 set scan per language for messages of ordinary length."""
        if len(folded) > SET_SCAN_CHARS:     # the set's DFA could run out of memory: one by one
            return frozenset(r.name for r in self.rules if (
                self._match(r.patterns, folded, lang) or self._match(r.breakage, folded, lang)))
        found: set[str] = set()
        for lg in (*langs_read(lang), "any"):
            entry = self._sets.get(lg)
            if entry is None:
                continue
            scan, names, singles = entry
            for i in (scan.Match(folded) or ()) if scan is not None else ():
                found.add(names[i])
            found.update(name for name, p in singles if name not in found and p.search(folded))
        return frozenset(found)

    def detect(self, conv: Conversation, lang: str = "en", impact: str | None = None
               ) -> Findings:
        """``impact``: impact already found elsewhere (a count of people, "whole company")."""
        found = Findings()
        found.settled_at = self._settled_at(conv, lang)
        msgs = list(conv.customer)[-MESSAGES_READ:]
        if not msgs:
            found.auto_only = any(m.auto_reply for m in conv.messages if m.author == "customer")
            return found
        latest = msgs[-1]
        lead = latest.lead or latest.text          # the customer's own words, not a forward
        thanked = False
        latest_folded = fold(lead)
        closing = self._cue("closing", latest_folded, lang)
        found.unhurried = bool(self._cue("unhurried", latest_folded, lang))
        asked = self._cue("close_asked", latest_folded, lang)
        if closing and negated(latest_folded, closing.start(), lang):
            closing = None                # "please do not close this ticket"
        if asked and negated(latest_folded, asked.start(), lang):
            asked = None
        if closing and not self._cue("still_open", latest_folded, lang) or \
                asked and not self._cue("still_broken", latest_folded, lang):
            found.closing = True          # an asked close only yields to "still broken"
            found.closing_sentence = sentence_of(lead, latest_folded, closing or asked)
        elif len(msgs) > 1 or conv.agent_replied_after(-1):
            # a short thank-you with no problem left in it closes the matter too
            thanks = self._short_thanks(lead, latest_folded, lang)
            if thanks:
                found.closing = True
                found.closing_sentence = sentence_of(lead, latest_folded, thanks)
                thanked = True
        # the latest message says the earlier matter works again; or, after an agent answered
        # it, moves on to a new question ("Great, I see it. Separate question: ..."), or thanks
        # an agent whose reply says it is fixed
        said_fixed = bool(self._cue("resolved", latest_folded, lang))
        answered = [m for m in conv.messages if m.author == "agent"
                    and m.index > msgs[-2].index] if len(msgs) > 1 else []
        moved_on = bool(answered) and bool(
            self._cue("moved_on", latest_folded, lang)
            or self._cue("gratitude", latest_folded, lang)
            and any(self._cue("resolved", fold(m.text), lang) for m in answered))
        latest_resolved = (said_fixed or moved_on) and not \
            self._cue("still_open", latest_folded, lang)
        resolved_at = latest.index if latest_resolved else None
        all_folded = "\n".join(fold(m.text) for m in msgs)
        imp = self._impact(all_folded, lang)
        found.impact = imp or impact

        sents: list[tuple[int, str, str, frozenset[str]]] = []   # (comment, sentence, folded,
        for m in msgs:                                              # rules its message hits)
            low_msg = fold(m.text)
            candidates = self._candidates(low_msg, lang)
            for rule in self.message_rules:
                if rule.name in candidates:
                    hit = self._message_hit(rule, m, low_msg, lang)
                    if hit is not None:
                        found.hits.append(hit)
            said = sentences(m.text)
            if len(said) > SENTENCES_READ:
                found.dropped.append(f"read the first {SENTENCES_READ:,} of {len(said):,} sentences "
                                     f"of comment {m.index}")
            for s in said[:SENTENCES_READ]:
                sents.append((m.index, s, fold(s), candidates))
        distinct = list(dict.fromkeys(s for _, s, _, _ in sents))
        scored = dict(zip(distinct, self.matcher.scores(distinct))) if distinct else {}
        semantic = [scored[s] for _, s, _, _ in sents]
        repeated: dict[tuple[int, str], tuple[list[Hit], list[str]]] = {}
        near: set[tuple[str, int]] = set()     # (tag, comment) a pattern read as a near miss
        for (idx, sent, low, candidates), sem in zip(sents, semantic):
            if (idx, sent) in repeated:             # a repeated sentence reads the same again
                hits, dropped = repeated[(idx, sent)]
                found.hits.extend(hits)
                found.dropped.extend(dropped)
                continue
            marks = len(found.hits), len(found.dropped)
            here = self._candidates(low, lang) & candidates if candidates else candidates
            for rule in self.rules:
                if rule.message:
                    continue
                m = None
                if rule.name in here:
                    m = self._match(rule.patterns, low, lang) or \
                        self._match(rule.breakage, low, lang)
                hit = None
                if m is not None:
                    u = self._match(rule.unless, low, lang)
                    if u is not None and not contrasted(low, u.end(), m.start()):
                        near.add((rule.name, idx))
                        continue
                    if rule.name in CITED_IN_QUOTES and in_quotes(low, m.start()):
                        found.dropped.append(f"{rule.name}: inside quotation marks: {sent!r}")
                        continue
                    if rule.negatable and negated(low, m.start(), lang):
                        found.dropped.append(f"{rule.name}: negated: {sent!r}")
                        continue
                    hit = Hit(rule.name, sent, idx, "pattern", m.group(0).strip())
                elif rule.semantic and rule.name in sem:
                    pos, neg, example = sem[rule.name]
                    threshold = (rule.threshold if rule.threshold is not None
                                 else SEMANTIC_THRESHOLD) + (0.0 if lang == "en"
                                                             else NON_ENGLISH_EXTRA)
                    if pos - neg >= SEMANTIC_MARGIN and not self._match(rule.unless, low, lang):
                        if pos > found.semantic_best.get(rule.name, -1.0):
                            found.semantic_best[rule.name] = round(pos, 4)
                        if pos >= threshold:
                            hit = Hit(rule.name, sent, idx, "semantic", example, round(pos, 3))
                if hit is None:
                    continue
                if self._fixed_or_past(rule, low, lang, idx, resolved_at):
                    found.dropped.append(f"{rule.name}: reported fixed or past: {sent!r}")
                    continue
                found.hits.append(hit)
            repeated[(idx, sent)] = found.hits[marks[0]:], found.dropped[marks[1]:]
        if self.model_tags:
            text = "\n".join(m.text for m in msgs)
            scores = self.tag_model.scores(text)        # one reading serves both
            self._model_hits(found, scores, [(i, s, low) for i, s, low, _ in sents], lang,
                             resolved_at, near)
            self._reader_veto(found, scores, text)
        # "no issues at the moment, it's just for our continuity plan": the message's state
        # and incident tags describe a scenario, not what is happening, and a tag the reader
        # only guesses is outweighed by the customer saying nothing is wrong
        calm = {m.index for m in msgs if self._cue("all_well", fold(m.text), lang)}
        found.all_well = bool(calm)

        def scenario(h: Hit) -> bool:
            return h.comment_index in calm and (self.by_name[h.tag].state or h.how == "model"
                                                or h.tag in SCENARIO_TAGS)
        if calm and any(scenario(h) for h in found.hits):
            found.dropped.append("state, incident and tag-reader tags of a message that says "
                                 "nothing is wrong now")
            found.hits = [h for h in found.hits if not scenario(h)]
        self._message_near_misses(found, msgs, lang)
        if any(h.tag == "outage" for h in found.hits):
            rule = self.by_name["outage"]
            if rule.needs_impact and not found.impact and not has_explicit(found, rule):
                found.dropped.append("outage: no impact stated (people, sites, money)")
                found.hits = [h for h in found.hits if h.tag != "outage"]
        if thanked and any(h.comment_index == latest.index for h in found.hits):
            found.closing = False           # a thank-you that still raises a risk
            found.closing_sentence = None
        if latest_resolved and said_fixed and not found.closing and not any(
                h.comment_index == latest.index and h.tag != "spam" for h in found.hits):
            found.closing = True           # "works again": no timer escalates it either
            found.closing_sentence = sentence_of(lead, latest_folded, self._cue(
                "resolved", latest_folded, lang))
        if latest_resolved and not found.closing:
            settled = sorted({h.tag for h in found.hits if h.comment_index < latest.index
                              and h.tag != "spam"})
            if settled:
                found.dropped.append("earlier messages, settled in the latest: "
                                     + ", ".join(settled))
                found.hits = [h for h in found.hits if h.comment_index >= latest.index
                              or h.tag == "spam"]
        if found.closing and found.closing_sentence:
            at = lead.find(found.closing_sentence)
            end = at + len(found.closing_sentence)
            later = sorted({h.tag for h in found.hits if h.comment_index == latest.index
                            and h.tag != "spam" and at >= 0 and lead.find(h.sentence) >= end})
            if later:                      # "that worked, thanks. But now ...": a new matter
                found.dropped.append("latest message settles one matter, then raises "
                                     + ", ".join(later))
                found.closing = False
                found.closing_sentence = None
        if found.closing:
            if found.hits:
                found.dropped.append("latest customer message closes the matter: "
                                     + ", ".join(sorted({h.tag for h in found.hits})))
            found.hits = [h for h in found.hits if h.tag == "spam"]
        return found


def _not_records(text: str, m: re.Match) -> bool:
    """Impact of the customer's: not the object of a records verb, not the vendor's ("your
    whole company is a joke")."""
    return not RECORDS_VERB.search(text, max(0, m.start() - 30), m.start()) and \
        not VENDORS_OWN.search(text, max(0, m.start() - 12), m.start())


def keyword_kept(detector: "RiskDetector", tag: str, phrase: str, texts: Sequence[str],
                 lang: str, found: Findings) -> bool:
    """Whether a tag the keyword pipeline found counts under the detector's reading rules:
    never when the latest message closes the matter; only for a tag whose definition says
    ``pipeline`` (the pipeline's typo-tolerant request for a human, its security phrases); and
    then not in a sentence that matches the tag's near-misses nor in a message that matches
    its message-scope near-misses, nor, for a state tag, in a sentence that reports it fixed or
    past."""
    rule = detector.by_name.get(tag)
    if rule is None:
        return True
    if found.closing or not rule.pipeline:
        return False
    want = fold(phrase)
    for text in texts:
        if rule.message_unless:
            whole = fold(text)
            if want in whole and detector._match(rule.message_unless, whole, lang):
                return False
        for sent in sentences(text):
            low = fold(sent)
            if want not in low:
                continue
            if detector._match(rule.unless, low, lang):
                return False
            if rule.state and (detector._cue("resolved", low, lang)
                               or detector._cue("past", low, lang)):
                return False
            return True
    return True
