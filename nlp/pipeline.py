"""The spaCy pipeline: ``spacy.blank("en")`` + three registered components.

``tiergate_lemmatizer``  NORM := lower-case lookup lemma (spacy-lookups-data ``en_lemma_lookup``),
                         set once per word type in the vocabulary, so "Refunds" / "refunds" /
                         "refund" share a norm and "can't" / "cannot" / "CANNOT" all read
                         "can not" (tokenizer exceptions split them).
``tiergate_phrases``     the manifest's keyword phrases matched on those lemmas with a
                         PhraseMatcher (overlaps kept, as ``span_ruler`` would, at a fifth of its
                         cost) into ``doc.user_data["tiergate"]`` as (label, start, end);
                         ``set_spans = True`` also fills ``doc.spans["tiergate"]``.
``tiergate_signals``     negation and hedging on the matched spans, the typo-tolerant request-for-
                         a-human detector, VADER-lexicon sentiment per sentence and intensity
                         ("!!!"). Results in ``doc.user_data["tiergate_signals"]``, read as
                         ``doc._.tg``, a plain ``Signals``.

What the signals component knows about a word is computed once per word type, like the lemma:
a small type id on the lexeme (``lex_attr_getters[ID]``) indexes a table of bit masks and
valences. Per batch of docs that is one ``doc.to_array(ID)`` per doc and one numpy lookup; the
Python scan then only visits flagged tokens. Importing this module registers the components
(needed before ``spacy.load`` of a saved pipeline that uses them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from itertools import compress
from typing import Mapping, Sequence

import numpy as np
import spacy
from spacy.attrs import ID, IS_UPPER, LOWER, NORM
from spacy.language import Language
from spacy.strings import hash_string
from spacy.tokens import Doc, Span
from spacy.util import minibatch

from tiergate.nlp import lexicon as lx

SPANS_KEY = "tiergate"
# where the signals component leaves its Signals: doc.user_data[SIGNALS_KEY], read as doc._.tg
SIGNALS_KEY = "tiergate_signals"
THREAT_TAGS = frozenset({"legal", "churn", "threat"})

# Words that end a clause when scanning left from a match for its negation or hedge.
CLAUSE_BREAK = frozenset(""", ; : . ! ? ( ) - and but or so because then otherwise else unless if
when once until i we they he she you""".split())
PRONOUNS = frozenset("i we they he she you".split())
NEGATORS = frozenset("not n't no never without nothing none nobody neither nor cannot".split())
HEDGES = frozenset("if whether unless maybe perhaps possibly might may could should would".split())
# Hedges that do not soften a threat ("I might take legal action" is still one).
THREAT_HEDGES = frozenset({"if", "whether", "unless"})
DETERMINERS = frozenset("my the this that our an a your his her their these those".split())
TRANSACTION_NOUNS = frozenset("""order orders booking bookings reservation reservations flight
flights ticket tickets payment payments purchase purchases delivery shipment appointment request
transfer item items transaction parcel package trip meeting call""".split())
SENT_END = frozenset({".", "!", "?", "\n", "\n\n"})

CONTACT_VERBS = frozenset("""talk talking speak speaking chat chatting contact contacting reach
call calling connect transfer touch communicate ring phone put""".split())
HUMAN_NOUNS = frozenset("""human person someone somebody agent representative rep manager
assistant advisor adviser associate consultant specialist anyone anybody
supervisor operator employee staff people humans persons agents representatives managers
supervisors operators""".split())
# "for 32 minutes", "2 wks", "three days": how long the customer has been stuck (tag "delay")
TIME_UNITS = frozenset("""min mins minute minutes hr hrs hour hours day days wk wks week weeks
month months""".split())
# Words that put a negative sentence in a customer/service context (vs. chatter about a game).
SERVICE_WORDS = frozenset("""order orders account service customer support product delivery
delivered shipping package parcel refund payment charge charged bill billing invoice flight
flights booking reservation app website site store staff agent team subscription plan price
item items purchase bought warranty repair replacement manager help email phone call""".split())
SECOND_PERSON = frozenset("you your yours yourself u ur y'all ya".split())
BLAME_AT = -0.2
# "I can't reach anyone" is still a request; only a negated wish blocks it ("don't want to").
DESIRE = frozenset("want wanna need wish like".split())
# A negation right before one of these reports something broken or missing ("no longer
# charging", "haven't received", "no internet"): the general shape of a support complaint.
FUNCTIONAL = frozenset("""work working works worked load loading loads connect connecting
connected charge charging charges arrive arrived arriving receive received get got gotten find
found open opening opens start starting starts turn sync syncing update updated updating respond
responded responding reply replied answer answered fix fixed fixing deliver delivered show showing
shows play playing send sent log login access accessing pay paid refund refunded call called hear
heard come came show load print install installed download downloading upload uploading accept
accepted process processed ship shipped resolve resolved help helped help helping internet power
appear appeared appearing remember remembers
answering engage engaged broadband tab phone network heat water tv cable app website site
account money order package parcel item refund
signal service response wifi connection email delivery update updates refund reply answer
callback""".split())
HUMAN_DIRECT = (("human", "agent"), ("live", "agent"), ("real", "person"), ("real", "human"),
                ("live", "person"), ("actual", "person"), ("human", "being"))


@dataclass
class Signals:
    """What the signals component leaves on a doc (plain Python, cheap to copy)."""

    sentiment: float = 0.0
    sentences: list[float] = field(default_factory=list)
    sentiment_words: int = 0
    words: int = 0
    exclaims: int = 0
    punct_runs: int = 0        # "??", "?!", "!!!" runs
    blame: int = 0             # negative sentences addressed to "you" / "your"
    context: int = 0           # customer/service words (order, account, delivery, ...)
    second_person: bool = False
    # (tag, start char, end char) of each kept match; slice the text for the phrase
    risks: list[tuple[str, int, int]] = field(default_factory=list)
    dropped: list[tuple[str, int, int, str]] = field(default_factory=list)  # (..., why)

    def phrases(self, text: str) -> list[tuple[str, str]]:
        """(tag, phrase) of the kept matches in text order."""
        return [(t, text[a:b]) for t, a, b in sorted(self.risks, key=lambda r: r[1])]


if not Doc.has_extension("tg"):
    # a getter over user_data: the component and the enricher use the dict directly (an
    # Underscore round trip per doc costs more than a dict access)
    Doc.set_extension("tg", getter=lambda doc: doc.user_data.get(SIGNALS_KEY))


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _edits1(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    transposes = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    inserts = {a + c + b for a, b in splits for c in _LETTERS}
    return deletes | transposes | replaces | inserts


def _typos(words, known: frozenset[int]) -> frozenset[int]:
    """Hashes of one-edit misspellings of ``words`` that are not known words (4-letter words:
    doubled or swapped letters only)."""
    out = set()
    for w in words:
        if len(w) == 4:
            variants = {w[:i] + w[i] + w[i:] for i in range(4)} | \
                {w[:i] + w[i + 1] + w[i] + w[i + 2:] for i in range(3)}
        elif len(w) >= 5:
            variants = _edits1(w)
        else:
            continue
        for v in variants:
            hv = hash_string(v)
            if hv not in known:
                out.add(hv)
    return frozenset(out)


@Language.factory("tiergate_lemmatizer")
def make_lemmatizer(nlp: Language, name: str):
    return LookupLemmatizer(nlp)


class LookupLemmatizer:
    """Lower-case lookup lemmas, computed once per word type instead of once per token.

    spaCy's lookup lemmatizer is case-sensitive ("Refunds" keeps its form) and writes every
    token. Here the lexeme attribute NORM (lower case + tokenizer-exception norms such as
    "n't" -> "not", "'ll" -> "will") is mapped through the same spacy-lookups-data table when a
    word type first enters the vocabulary, and the tokenizer-exception norms are mapped too.
    The phrase matcher then matches on NORM = lemma: "Refunds" = "refund", "can't" = "cannot" =
    "can not", "I'm going to" = "I am going to". ``token.lemma_`` itself is left unset; the
    per-doc call is free.
    """

    def __init__(self, nlp: Language):
        self.lemmas = lemma_lookup()
        vocab = nlp.vocab
        previous = vocab.lex_attr_getters.get(NORM)
        lemmas = self.lemmas

        def norm(string: str) -> str:
            base = previous(string) if previous is not None else string.lower()
            return lemmas.get(base, base)

        vocab.lex_attr_getters[NORM] = norm
        for lex in list(vocab):
            lex.norm_ = lemmas.get(lex.norm_, lex.norm_)
        rules = {}
        for text, tokens in (nlp.tokenizer.rules or {}).items():
            new = []
            for tok in tokens:
                tok = dict(tok)
                for key in (NORM, "NORM"):
                    base = tok.get(key)
                    if isinstance(base, str):
                        tok[key] = lemmas.get(base.lower(), base.lower())
                new.append(tok)
            rules[text] = new
        nlp.tokenizer.rules = rules
        self.known = frozenset(hash_string(w) for w in lemmas) | \
            frozenset(hash_string(w) for w in lemmas.values())

    def __call__(self, doc: Doc) -> Doc:
        return doc


@lru_cache(maxsize=1)
def lemma_lookup() -> dict[str, str]:
    """spacy-lookups-data ``en_lemma_lookup`` (WordNet-derived, permissive licence), with
    lower-cased forms."""
    import gzip
    import json
    from pathlib import Path

    import spacy_lookups_data

    path = Path(spacy_lookups_data.__file__).parent / "data" / "en_lemma_lookup.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        raw = json.load(fh)
    out: dict[str, str] = {}
    for form, lemma in raw.items():
        out.setdefault(form.lower(), lemma.lower())
    return out


@Language.factory("tiergate_phrases")
def make_phrases(nlp: Language, name: str):
    return PhraseComponent(nlp)


class PhraseComponent:
    """The manifest's keyword phrases on NORM = lemma (PhraseMatcher: overlapping matches are all
    kept, like ``span_ruler``, at a fifth of its cost)."""

    def __init__(self, nlp: Language):
        from spacy.matcher import PhraseMatcher

        self.nlp = nlp
        self.matcher = PhraseMatcher(nlp.vocab, attr="NORM")
        self.patterns: dict[str, list[str]] = {}
        self.set_spans = False   # True: also write doc.spans["tiergate"] (inspection, displacy)

    def add_patterns(self, keywords: Mapping[str, Sequence[str]]) -> None:
        me = self.nlp.pipe_names.index("tiergate_phrases") if "tiergate_phrases" in \
            self.nlp.pipe_names else len(self.nlp.pipe_names)
        before = self.nlp.pipeline[:me]
        for tag, phrases in keywords.items():
            docs = []
            for phrase in phrases:
                phrase = str(phrase).strip()
                if not phrase:
                    continue
                doc = self.nlp.make_doc(phrase)
                for _, proc in before:
                    doc = proc(doc)
                docs.append(doc)
                self.patterns.setdefault(str(tag), []).append(phrase)
            if docs:
                self.matcher.add(str(tag), docs)

    def __call__(self, doc: Doc) -> Doc:
        matches = self.matcher(doc)
        if matches:
            # raw (label hash, start, end) for the signals component; a SpanGroup per doc would
            # cost more than the matching itself, so doc.spans is filled only on request
            matches.sort(key=lambda x: (x[1], x[2]))
            doc.user_data[SPANS_KEY] = matches
            if self.set_spans:
                doc.spans[SPANS_KEY] = [Span(doc, s, e, label=m) for m, s, e in matches]
        return doc


def _chars(doc: Doc, start: int, end: int) -> tuple[int, int]:
    """Character offsets of tokens start..end (cheaper than building a Span's text)."""
    last = doc[end - 1]
    return doc[start].idx, last.idx + len(last)


@Language.factory("tiergate_signals")
def make_signals(nlp: Language, name: str):
    return SignalsComponent(nlp)


# token flags (bit mask per word type). The first 14 drive the scan; the role bits (14-21) only
# serve the negation / hedging look-back of a match and are masked out of the scan.
(VAL, END, EXCL, NEG, BOOST, BUT, CONTACT, HUMAN, DIRECT, FUNC, YOU, TIME,
 CTX, CAPS) = (1 << k for k in range(14))
(R_HEDGE, R_THEDGE, R_PRON, R_BREAK, R_DESIRE, R_DET, R_TRANS, R_ONE) = \
    (1 << k for k in range(14, 22))
SCAN_MASK = (1 << 14) - 1
ID_SHIFT = 14
# flags handled by the rarer branch of the scan (everything but sentiment / negation / boosters)
_OTHER = YOU | CTX | TIME | BUT | CONTACT | HUMAN | FUNC


class SignalsComponent:
    """Negation/hedging of risk spans, human-request detection, sentiment, intensity.

    Every word type the component cares about gets a small *type id* when its lexeme is created
    (a ``lex_attr_getters[ID]`` getter, like the lemma on NORM: once per word type, never per
    token), with a bit mask per id: sentiment word, sentence end, negator, booster, "but",
    contact verb, human noun, functional word, "you", time unit, service word, sentiment word in
    capitals, and the look-back roles (hedge, pronoun, clause break, determiner, ...). Words none
    of the lists know have id 0. Per batch of docs: ``doc.to_array(ID)`` per doc, one numpy
    lookup of all ids in the mask table, and a Python scan per doc over the flagged tokens only
    (``itertools.compress``). Built-in tags besides the manifest's: ``human_request``,
    ``problem`` (negated functional word: "no longer charging"), ``delay`` ("for 32 minutes").

    The blank pipeline has no word vectors, so the lexeme ID (vector row) is free to carry the
    type id; the component refuses a vocabulary with vectors.
    """

    def __init__(self, nlp: Language):
        strings = nlp.vocab.strings
        lexicon, boosters = lx.vader_tables()
        self.strings = strings
        self.vocab = nlp.vocab
        if nlp.vocab.vectors.shape[0]:
            raise ValueError("tiergate_signals keeps its word-type ids in the lexeme ID, which "
                             "word vectors use: build it on a vocabulary without vectors")
        getters = nlp.vocab.lex_attr_getters
        self._lower = getters.get(LOWER) or str.lower        # the lexeme's own LOWER / IS_UPPER
        self._is_upper = getters.get(IS_UPPER) or str.isupper
        self.lex = {strings.add(w): v for w, v in lexicon.items()}
        self.boost = {strings.add(w): v for w, v in boosters.items()}
        h = lambda words: frozenset(strings.add(w) for w in words)  # noqa: E731
        self.negate = h(lx.NEGATE) | h(NEGATORS)
        self.sent_end = h(SENT_END)
        self.exclaim = strings.add("!")
        self.clause_break = h(CLAUSE_BREAK)
        self.pronouns = h(PRONOUNS)
        self.hedges = h(HEDGES)
        self.threat_hedges = h(THREAT_HEDGES)
        self.determiners = h(DETERMINERS)
        self.transaction = h(TRANSACTION_NOUNS)
        self.direct_mods = h({a for a, _ in HUMAN_DIRECT})
        self.desire = h(DESIRE)
        self.tag_names: dict[int, str] = {}
        self.one = h({"one", "a", "an", "1"})   # "one day" is an idiom, not a wait
        self.direct = {(strings.add(a), strings.add(b)) for a, b in HUMAN_DIRECT}
        self.known: frozenset[int] = frozenset()
        self._build()

    def set_known(self, known: frozenset[int]) -> None:
        """Add one-typo variants of the contact / human words that are not real words."""
        self.known = known | frozenset(self.lex)
        self._build()

    def _build(self) -> None:
        s = self.strings
        flags: dict[int, int] = {}

        def add(hashes, bit):
            for x in hashes:
                flags[x] = flags.get(x, 0) | bit

        add(self.lex, VAL)
        add(self.sent_end, END)
        add([self.exclaim], EXCL)
        add(self.negate, NEG)
        add(self.boost, BOOST)
        add([s.add("but")], BUT)
        add({s.add(w) for w in CONTACT_VERBS}, CONTACT)
        add({s.add(w) for w in HUMAN_NOUNS}, HUMAN)
        add(self.direct_mods, DIRECT)
        add({s.add(w) for w in FUNCTIONAL}, FUNC)
        add({s.add(w) for w in SECOND_PERSON}, YOU)
        add({s.add(w) for w in TIME_UNITS}, TIME)
        add({s.add(w) for w in SERVICE_WORDS}, CTX)
        if self.known:
            add(_typos(CONTACT_VERBS, self.known), CONTACT)
            add(_typos(HUMAN_NOUNS, self.known), HUMAN)
        add(self.hedges, R_HEDGE)
        add(self.threat_hedges, R_THEDGE)
        add(self.pronouns, R_PRON)
        add(self.clause_break, R_BREAK)
        add(self.desire, R_DESIRE)
        add(self.determiners, R_DET)
        add(self.transaction, R_TRANS)
        add(self.one, R_ONE)
        for pair in self.direct:
            for x in pair:
                flags.setdefault(x, 0)
        # type ids: 1..K for the known lower-case words, K+1..2K for a sentiment word written in
        # capitals (token.is_upper, len > 1), which carries the CAPS bit on top
        keys = sorted(flags)
        k = len(keys)
        wid = {h: i + 1 for i, h in enumerate(keys)}
        codes = [0] + [flags[h] for h in keys]
        codes += [c | CAPS if c & VAL else c for c in codes[1:]]
        self._code_tab = np.array(codes, dtype=np.int64)
        # what the scan sees: the type id above the scan bits, 0 for a token it skips
        self._scan_tab = np.array([(t << ID_SHIFT) | (c & SCAN_MASK) if c & SCAN_MASK else 0
                                   for t, c in enumerate(codes)], dtype=np.int64)
        val = [0.0] + [self.lex.get(h, 0.0) for h in keys]
        self._val = val + val[1:]
        boost = [0.0] + [self.boost.get(h, 0.0) for h in keys]
        self._boost = boost + boost[1:]
        self._direct_ids = {(wid[a], wid[b]) for a, b in self.direct}
        self._wid = wid
        self._is_val = [bool(c & VAL) for c in codes]
        self._k = k
        # the type id of every lexeme: new ones through the getter, existing ones now
        vocab = self.vocab
        vocab.lex_attr_getters[ID] = self._type_id
        for lex in list(vocab):
            lex.rank = self._type_id(lex.orth_)

    def _base(self, t: int) -> int:
        """The lower-case word's id of a type id (drops the capitals variant)."""
        return t - self._k if t > self._k else t

    def _type_id(self, string: str) -> int:
        """Type id of a word form (see the class docstring)."""
        low = self._lower(string)
        t = self._wid.get(self.strings.add(low), 0)   # = the lexeme's LOWER (symbols included)
        if t and self._is_val[t] and string != low and self._is_upper(string) \
                and len(string) > 1:
            t += self._k
        return t

    def __call__(self, doc: Doc) -> Doc:
        self._batch([doc])
        return doc

    def pipe(self, docs, batch_size: int = 64):
        # 64 docs already amortise the numpy calls; more would only keep more docs alive
        for batch in minibatch(docs, size=min(batch_size, 64)):
            self._batch(batch)
            yield from batch

    def _batch(self, docs: Sequence[Doc]) -> None:
        """Type ids of a whole batch (one ``to_array`` per doc), their masks in one numpy
        lookup, then a scan per doc."""
        arrs = [doc.to_array(ID) for doc in docs]
        ids = arrs[0] if len(arrs) == 1 else np.concatenate(arrs)
        scan_all = self._scan_tab[ids].tolist()
        codes_all = self._code_tab[ids].tolist()
        o = 0
        for doc, arr in zip(docs, arrs):
            sig = Signals()
            n = len(arr)
            sig.words = n
            if n:
                e = o + n
                codes = codes_all[o:e]
                matches = doc.user_data.get(SPANS_KEY)
                if matches:
                    self._risks(doc, matches, codes, sig)
                self._scan(doc, scan_all[o:e], codes, sig)
                o = e
            doc.user_data[SIGNALS_KEY] = sig     # = doc._.tg

    def _scan(self, doc, scan, codes, sig: Signals) -> None:
        """One pass over the flagged tokens only (``compress`` skips the rest in C): sentiment per
        sentence, exclaims, human request, problem, delay. A sentinel sentence end after the
        last token closes the final sentence through the same code as every other one."""
        n = len(scan)
        scan.append(END)                        # sentinel: closes the last sentence
        total = 0.0
        hits = sent_hits = exclaims = 0
        after_but = False
        mods: list[tuple[int, int]] = []  # (position, scan value) of negators / boosters
        verb_at = -1
        neg_at = -9
        human = None
        problem = None
        delay = None
        sentences = sig.sentences
        boost = self._boost
        val = self._val
        any_lower = None
        you = second_person = False
        context = punct_runs = blame = exclaims_total = 0
        for i in compress(range(n + 1), scan):
            c = scan[i]
            if c & END:
                if c & EXCL:
                    exclaims += 1
                if i + 1 < n and scan[i + 1] & END:
                    punct_runs += 1
                    continue
                if sent_hits:
                    if exclaims:
                        emph = min(exclaims, 4) * 0.292
                        total += emph if total > 0 else -emph
                    value = lx.normalize(total)
                    sentences.append(value)
                    if you and value <= BLAME_AT:
                        blame += 1
                    total = 0.0
                    sent_hits = 0
                exclaims_total += exclaims
                exclaims = 0
                after_but = you = False
                if mods:
                    mods = []
                verb_at = -1
                neg_at = -9
                continue
            if c & _OTHER:
                if c & YOU:
                    you = second_person = True
                if c & CTX:
                    context += 1
                if c & TIME and delay is None and i and not codes[i - 1] & R_ONE \
                        and doc[i - 1].like_num:
                    delay = (i - 1, i + 1)
                if c & BUT:
                    if not after_but:
                        total *= 0.5
                        after_but = True
                    continue
                if c & CONTACT:
                    verb_at = i
                if c & HUMAN and human is None:
                    if i and scan[i - 1] & DIRECT and \
                            (self._base(scan[i - 1] >> ID_SHIFT), self._base(c >> ID_SHIFT)) \
                            in self._direct_ids:
                        human = (i - 1, i + 1)
                    elif verb_at >= 0 and i - verb_at <= 6:
                        human = (verb_at, i + 1)
                if c & FUNC and problem is None and i - neg_at <= 3:
                    problem = (neg_at, i + 1)
            if c & (NEG | BOOST):
                if c & NEG:
                    neg_at = i
                mods.append((i, c))
                continue
            if not c & VAL:
                continue
            v = val[c >> ID_SHIFT]
            sent_hits += 1
            hits += 1
            if c & CAPS:
                if any_lower is None:   # capitals only emphasise in mixed-case text
                    any_lower = any(t.is_lower for t in doc)
                if any_lower:
                    v += lx.C_INCR if v > 0 else -lx.C_INCR
            if mods:
                for j, mc in reversed(mods):
                    back = i - j
                    if back > 3:
                        break
                    if mc & BOOST:
                        b = boost[mc >> ID_SHIFT]
                        v += (b if v > 0 else -b) * (1.0, 0.95, 0.9)[back - 1]
                    if mc & NEG:
                        v *= lx.N_SCALAR
            if after_but:
                v *= 1.5
            total += v
        sig.context = context
        sig.punct_runs = punct_runs
        sig.blame = blame
        sig.exclaims = exclaims_total
        sig.second_person = second_person
        sig.sentiment_words = hits
        if sentences:
            sig.sentiment = sum(sentences) / len(sentences)
        if problem is not None:
            sig.risks.append(("problem",) + _chars(doc, *problem))
        if delay is not None:
            sig.risks.append(("delay",) + _chars(doc, *delay))
        if human is not None and not any(r[0] == "human_request" for r in sig.risks) \
                and not self._blocked("human_request", human[0], human[1], codes):
            sig.risks.append(("human_request",) + _chars(doc, *human))

    # -- risk spans ----------------------------------------------------------------------------
    def _risks(self, doc, matches, codes, sig: Signals) -> None:
        tags = self.tag_names
        for label, start, end in matches:
            tag = tags.get(label)
            if tag is None:
                tag = tags[label] = self.strings[label]
            why = self._blocked(tag, start, end, codes)
            if why:
                sig.dropped.append((tag,) + _chars(doc, start, end) + (why,))
            else:
                sig.risks.append((tag,) + _chars(doc, start, end))

    def _blocked(self, tag: str, start: int, end: int, codes) -> str:
        """Why the match start..end is dropped ("negated", "hedged", "transactional object")
        or "" (``codes``: the role bits of each token of the doc)."""
        threat = tag in THREAT_TAGS
        hedge = R_THEDGE if threat else R_HEDGE
        if tag == "human_request":   # "could I talk to someone?" is how a request is phrased
            hedge = 0
        if codes[start] & R_PRON:
            # the match opens its own clause ("... I'll cancel"); only "if I ..." hedges it
            if start > 0 and codes[start - 1] & hedge:
                return "hedged"
        else:
            j = start - 1
            while j >= 0 and j >= start - 5:
                h = codes[j]
                if h & NEG and (tag != "human_request" or any(
                        x & R_DESIRE for x in codes[j + 1:min(start, j + 3)])):
                    return "negated"
                if h & hedge:
                    return "hedged"
                if h & R_PRON:
                    if j > 0 and codes[j - 1] & hedge:
                        return "hedged"
                    break
                if h & R_BREAK:
                    break
                j -= 1
        if threat:
            k = end
            n = len(codes)
            while k < n and codes[k] & R_DET:
                k += 1
            if k < n and codes[k] & R_TRANS:
                return "transactional object"
        return ""

def build_nlp(keywords: Mapping[str, Sequence[str]]) -> Language:
    """A fresh pipeline with the given ``{tag: [phrases]}`` keyword lists."""
    nlp = spacy.blank("en")
    for form in ("CANNOT", "Cannot"):
        nlp.tokenizer.add_special_case(form, [{"ORTH": form[:3], "NORM": "can"},
                                              {"ORTH": form[3:], "NORM": "not"}])
    lemmatizer = nlp.add_pipe("tiergate_lemmatizer")
    phrases = nlp.add_pipe("tiergate_phrases")
    phrases.add_patterns(keywords)
    signals = nlp.add_pipe("tiergate_signals")
    signals.set_known(lemmatizer.known)
    return nlp
