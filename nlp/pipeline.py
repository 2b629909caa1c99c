"""The spaCy pipeline: ``spacy.blank("en")`` + two registered components.

``tiergate_lemmatizer``  NORM := lower-case lookup lemma (spacy-lookups-data ``en_lemma_lookup``),
                         set once per word type in the vocabulary, so "Refunds" / "refunds" /
                         "refund" share a norm and "can't" / "cannot" / "CANNOT" all read
                         "can not" (tokenizer exceptions split them).
``tiergate_signals``     the manifest's keyword phrases matched on those lemmas (every overlapping
                         match, as ``span_ruler`` would), negation and hedging on each match, the
                         typo-tolerant request-for-a-human detector, VADER-lexicon sentiment per
                         sentence and intensity ("!!!"). Results in
                         ``doc.user_data["tiergate_signals"]``, read as ``doc._.tg``, a plain
                         ``Signals``; ``set_spans = True`` also fills ``doc.spans["tiergate"]``.

What the signals component knows about a word is computed once per word type, like the lemma:
a small type id on the lexeme (``lex_attr_getters[ID]``) indexes a table of bit masks and
valences. The scan itself is compiled (``_signals.pyx``): one pass in C over spaCy's token structs
per doc, no Python object per token. Importing this module registers the components (needed
before ``spacy.load`` of a saved pipeline that uses them).
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

import numpy as np
import spacy
from spacy.attrs import ID, IS_UPPER, LOWER, NORM
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.strings import hash_string
from spacy.tokens import Doc, Span

from tiergate.nlp import lexicon as lx
from tiergate.nlp.lemmas import lemma_lookup
from tiergate.nlp.amounts import MONEY_HINTS
from tiergate.nlp._signals import FLAGS, FORM_SHIFT, PhraseTrie, Scanner
from tiergate.nlp._signals import Signals  # noqa: F401  (what doc._.tg returns)

SPANS_KEY = "tiergate"
CAPS_PAIR = re.compile(r"[A-Z][A-Z]")
# where the signals component leaves its Signals: doc.user_data[SIGNALS_KEY], read as doc._.tg
SIGNALS_KEY = "tiergate_signals"

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
            frozenset(hash_string(w) for w in lemmas.values()) | \
            frozenset(hash_string(w) for w in STOP_WORDS)      # "each" is no typo of "reach"

    def __call__(self, doc: Doc) -> Doc:
        return doc

    def pipe(self, docs, batch_size: int = 128):
        return docs


@Language.factory("tiergate_signals")
def make_signals(nlp: Language, name: str):
    return SignalsComponent(nlp)


# token flags (bit mask per word type), shared with the compiled scan: the first 14 drive the
# scan; the role bits only serve the negation / hedging look-back of a match
(VAL, END, EXCL, NEG, BOOST, BUT, CONTACT, HUMAN, DIRECT, FUNC, YOU, TIME, CTX, CAPS, R_HEDGE,
 R_THEDGE, R_PRON, R_BREAK, R_DESIRE, R_DET, R_TRANS, R_ONE) = (FLAGS[k] for k in """VAL END EXCL
 NEG BOOST BUT CONTACT HUMAN DIRECT FUNC YOU TIME CTX CAPS R_HEDGE R_THEDGE R_PRON R_BREAK R_DESIRE
 R_DET R_TRANS R_ONE""".split())
MARK = FLAGS["MARK"]
(W_CAPS2, W_UPSTART, W_UPEND, W_MONEY, W_MONEY_HEAD, W_MONEY_TAIL) = (FLAGS[k] for k in (
    "W_CAPS2", "W_UPSTART", "W_UPEND", "W_MONEY", "W_MONEY_HEAD", "W_MONEY_TAIL"))
# letters of the multi-letter hints: only a split between two of them can cut a hint in two
MONEY_HINT_LETTERS = frozenset("".join(h for h in MONEY_HINTS if len(h) > 1))


class SignalsComponent:
    """Negation/hedging of risk spans, human-request detection, sentiment, intensity.

    Every word type the component cares about gets a small *type id* when its lexeme is created
    (a ``lex_attr_getters[ID]`` getter, like the lemma on NORM: once per word type, never per
    token), with a bit mask per id: sentiment word, sentence end, negator, booster, "but",
    contact verb, human noun, functional word, "you", time unit, service word, sentiment word in
    capitals, and the look-back roles (hedge, pronoun, clause break, determiner, ...). Words none
    of the lists know have id 0. Per doc, one pass in C (``_signals.Scanner``) reads each
    token's lexeme id and its mask; no Python object is made per token. Built-in tags besides
    the manifest's: ``human_request``,
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
        self.nlp = nlp
        self.trie = PhraseTrie()
        self.patterns: dict[str, list[str]] = {}
        self.set_spans = False   # True: also write doc.spans["tiergate"] (inspection, displacy)
        self._build()

    def add_patterns(self, keywords: Mapping[str, Sequence[str]]) -> None:
        """The manifest's ``{tag: [phrases]}``, matched on NORM = lemma (every overlapping
        match; each then judged for negation / hedging)."""
        me = self.nlp.pipe_names.index("tiergate_signals") if "tiergate_signals" in \
            self.nlp.pipe_names else len(self.nlp.pipe_names)
        before = self.nlp.pipeline[:me]
        for tag, phrases in keywords.items():
            for phrase in phrases:
                phrase = str(phrase).strip()
                doc = self.nlp.make_doc(phrase)
                for _, proc in before:
                    doc = proc(doc)
                if len(doc):
                    self.trie.add(str(tag), [t.norm for t in doc])
                    self.patterns.setdefault(str(tag), []).append(phrase)
        # the lexeme flag "this word's NORM opens a phrase", for every word type now and later
        first = self.trie.first_words()
        norm = self.nlp.vocab.lex_attr_getters[NORM]
        self.trie.flag = self.nlp.vocab.add_flag(lambda string: hash_string(norm(string)) in first,
                                                 self.trie.flag)

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
        add([self.exclaim, s.add("?")], MARK)
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
        val = [0.0] + [self.lex.get(h, 0.0) for h in keys]
        boost = [0.0] + [self.boost.get(h, 0.0) for h in keys]
        self._scanner = Scanner(
            np.array(codes, dtype=np.int64), np.array(val + val[1:]),
            np.array(boost + boost[1:]),
            np.array(sorted((wid[a], wid[b]) for a, b in self.direct), dtype=np.int64),
            k, lx.C_INCR, lx.N_SCALAR, lx.ALPHA, self.trie)
        self._wid = wid
        self._is_val = [bool(c & VAL) for c in codes]
        self._k = k
        # the type id of every lexeme: new ones through the getter, existing ones now
        vocab = self.vocab
        vocab.lex_attr_getters[ID] = self._lexeme_id
        for lex in list(vocab):
            lex.rank = self._lexeme_id(lex.orth_)

    def _lexeme_id(self, string: str) -> int:
        """The lexeme id of a word form: its type id, and above bit 32 what the form says
        about capitals and currency hints, from which the scan knows exactly whether the text
        has "[A-Z][A-Z]" and whether it may hold a currency hint (``amounts.MONEY_HINTS``)."""
        form = 0
        if CAPS_PAIR.search(string):
            form |= W_CAPS2
        if "A" <= string[:1] <= "Z":
            form |= W_UPSTART
        if "A" <= string[-1:] <= "Z":
            form |= W_UPEND
        low = string.lower()
        for hint in MONEY_HINTS:
            if hint in low:
                form |= W_MONEY
                break
        if low[:1] in MONEY_HINT_LETTERS:
            form |= W_MONEY_HEAD
        if low[-1:] in MONEY_HINT_LETTERS:
            form |= W_MONEY_TAIL
        return self._type_id(string) | (form << FORM_SHIFT)

    def _type_id(self, string: str) -> int:
        """Type id of a word form (see the class docstring)."""
        low = self._lower(string)
        t = self._wid.get(self.strings.add(low), 0)   # = the lexeme's LOWER (symbols included)
        if t and self._is_val[t] and string != low and self._is_upper(string) \
                and len(string) > 1:
            t += self._k
        return t

    def __call__(self, doc: Doc) -> Doc:
        doc.user_data[SIGNALS_KEY] = self._scanner.scan(doc)
        if self.set_spans:
            doc.spans[SPANS_KEY] = [Span(doc, s, e, label=m) for m, s, e in self.trie(doc)]
        return doc

    def pipe(self, docs, batch_size: int = 128):
        if self.set_spans:
            yield from map(self, docs)
            return
        scan = self._scanner.scan
        for doc in docs:
            doc.user_data[SIGNALS_KEY] = scan(doc)
            yield doc


def build_nlp(keywords: Mapping[str, Sequence[str]]) -> Language:
    """A fresh pipeline with the given ``{tag: [phrases]}`` keyword lists."""
    nlp = spacy.blank("en")
    for form in ("CANNOT", "Cannot"):
        nlp.tokenizer.add_special_case(form, [{"ORTH": form[:3], "NORM": "can"},
                                              {"ORTH": form[3:], "NORM": "not"}])
    lemmatizer = nlp.add_pipe("tiergate_lemmatizer")
    signals = nlp.add_pipe("tiergate_signals")
    signals.add_patterns(keywords)
    signals.set_known(lemmatizer.known)
    return nlp
