# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The signals component's per-doc scan in C, over spaCy's token structs.

One pass over a doc's tokens reads each lexeme's type id (``lex.id``, set once per word type by
``pipeline.SignalsComponent``) and looks up its bit mask in a table; no Python object is made per
token. It scores sentiment per sentence (VADER's rules: boosters, negation, "but", capitals,
"!"), counts intensity and context words, finds the built-in spans (request for a human,
negated functional word, "for 32 minutes") and decides which phrase matches negation or hedging
drops. ``pipeline.py`` documents the rules and builds the tables; the flag values below are the
ones it imports.
"""
from libc.math cimport sqrt
from libc.stdint cimport int64_t, uint64_t
from libcpp.vector cimport vector
from spacy.attrs cimport IS_LOWER, LIKE_NUM
from spacy.lexeme cimport Lexeme
from spacy.structs cimport TokenC
from spacy.tokens.doc cimport Doc
from spacy.typedefs cimport attr_t, flags_t

import spacy

cdef extern from *:
    """
    #ifndef TIERGATE_SPACY_BUILD
    #define TIERGATE_SPACY_BUILD "unknown"
    #endif
    """
    const char* TIERGATE_SPACY_BUILD

# the token structs read below are spaCy's, as laid out in the version this was compiled with
SPACY_BUILT_WITH = TIERGATE_SPACY_BUILD.decode()
if SPACY_BUILT_WITH.split(".")[:2] != spacy.__version__.split(".")[:2]:
    raise ImportError(
        f"tiergate's compiled NLP scan was built against spaCy {SPACY_BUILT_WITH}, but spaCy "
        f"{spacy.__version__} is installed: reinstall tiergate to rebuild it "
        f"(pip install --force-reinstall --no-deps tiergate, or pip install -e . in a checkout)")

# token flags (bit mask per word type). The first 14 drive the scan; the role bits (14-21) only
# serve the negation / hedging look-back of a match.
cdef enum:
    F_VAL = 1 << 0
    F_END = 1 << 1
    F_EXCL = 1 << 2
    F_NEG = 1 << 3
    F_BOOST = 1 << 4
    F_BUT = 1 << 5
    F_CONTACT = 1 << 6
    F_HUMAN = 1 << 7
    F_DIRECT = 1 << 8
    F_FUNC = 1 << 9
    F_YOU = 1 << 10
    F_TIME = 1 << 11
    F_CTX = 1 << 12
    F_CAPS = 1 << 13
    F_HEDGE = 1 << 14
    F_THEDGE = 1 << 15
    F_PRON = 1 << 16
    F_BREAK = 1 << 17
    F_DESIRE = 1 << 18
    F_DET = 1 << 19
    F_TRANS = 1 << 20
    F_ONE = 1 << 21
    F_MARK = 1 << 22      # "!" and "?": two in a row are a punctuation run
    F_OTHER = F_YOU | F_CTX | F_TIME | F_BUT | F_CONTACT | F_HUMAN | F_FUNC
    MAX_MODS = 3          # boosters / negators act up to 3 words back
    # what the form of a word says, above bit 32 of its lexeme id: about capitals
    # ([A-Z][A-Z] inside it, an A-Z first / last character)
    W_CAPS2 = 1
    W_UPSTART = 2
    W_UPEND = 4
    # about money: a currency hint in it ("$", "usd", "dollar", ...); a first / last character
    # that could be part of a hint word split across two tokens
    W_MONEY = 8
    W_MONEY_HEAD = 16
    W_MONEY_TAIL = 32
    # how a phrase match is judged: a threat ("I'll cancel") keeps "might"; a request for a
    # human keeps every hedge ("could I talk to someone?") and only a negated wish blocks it
    K_PLAIN = 0
    K_THREAT = 1
    K_HUMAN = 2

FLAGS = dict(VAL=F_VAL, END=F_END, EXCL=F_EXCL, NEG=F_NEG, BOOST=F_BOOST, BUT=F_BUT,
             CONTACT=F_CONTACT, HUMAN=F_HUMAN, DIRECT=F_DIRECT, FUNC=F_FUNC, YOU=F_YOU,
             TIME=F_TIME, CTX=F_CTX, CAPS=F_CAPS, R_HEDGE=F_HEDGE, R_THEDGE=F_THEDGE,
             R_PRON=F_PRON, R_BREAK=F_BREAK, R_DESIRE=F_DESIRE, R_DET=F_DET, R_TRANS=F_TRANS,
             R_ONE=F_ONE, MARK=F_MARK, W_CAPS2=W_CAPS2, W_UPSTART=W_UPSTART, W_UPEND=W_UPEND,
             W_MONEY=W_MONEY, W_MONEY_HEAD=W_MONEY_HEAD, W_MONEY_TAIL=W_MONEY_TAIL)
FORM_SHIFT = 32
cdef int64_t TYPE_MASK = (1 << FORM_SHIFT) - 1   # the type id part of a lexeme id

THREAT_TAGS = frozenset({"legal", "churn", "threat"})
_WHY = ("", "negated", "hedged", "transactional object")

cdef double EMPHASIS = 0.292      # per "!" (at most 4) on a sentence's score
cdef double BLAME_AT = -0.2       # a "you" sentence this negative is blame
cdef double BUT_BEFORE = 0.5
cdef double BUT_AFTER = 1.5
cdef double BARE_NEGATION = -0.15  # a sentence with a negator and no sentiment word


cdef inline attr_t _norm(const TokenC* token) noexcept nogil:
    """The token's NORM as spaCy's matchers read it (a tokenizer exception's own norm first)."""
    return token.norm if token.norm != 0 else token.lex.norm


include "_phrase_trie.pxi"


cdef class Signals:
    """What the signals component leaves on a doc (``doc._.tg``)."""

    cdef public double sentiment           # mean of the sentence scores
    cdef public int sentence_count         # sentences with a sentiment word
    cdef public int sentiment_words
    cdef public int words
    cdef public int exclaims
    cdef public int punct_runs             # "??", "?!", "!!!" runs
    cdef public int blame                  # negative sentences addressed to "you" / "your"
    cdef public int context                # customer/service words (order, account, ...)
    cdef public bint second_person
    cdef public bint caps_pair             # the text has two A-Z capitals in a row somewhere
    cdef public bint money_hint            # the text may hold a currency hint (False: it has none)
    # (tag, start char, end char) of each kept match, in text order; slice the text for the phrase
    cdef public list risks
    cdef public list dropped               # (tag, start char, end char, why)
    cdef public bint repeats               # some tag is among the risks twice

    def __cinit__(self):
        self.risks = []
        self.dropped = []

    def phrases(self, str text):
        """(tag, phrase) of the kept matches in text order, each (tag, lower-case phrase) once."""
        if not self.repeats:
            return tuple([(tag, text[a:b]) for tag, a, b in self.risks])
        cdef set seen = set()
        cdef list out = []
        cdef str phrase
        for tag, a, b in self.risks:
            phrase = text[a:b]
            key = (tag, phrase.lower())
            if key not in seen:
                seen.add(key)
                out.append((tag, phrase))
        return tuple(out)

    cdef void _order(self):
        """Risks in text order (a stable insertion sort: the phrase matches arrive in order and
        only the built-in spans appended after them move); ``repeats``: a tag seen twice."""
        cdef list risks = self.risks
        cdef Py_ssize_t i, j, n = len(risks)
        for i in range(1, n):
            item = risks[i]
            start = item[1]
            j = i - 1
            while j >= 0 and risks[j][1] > start:
                risks[j + 1] = risks[j]
                j -= 1
            risks[j + 1] = item
        self.repeats = n > 1 and len({r[0] for r in risks}) < n


cdef inline int64_t _char_start(const TokenC* tokens, int i) nogil:
    return tokens[i].idx


cdef inline int64_t _char_end(const TokenC* tokens, int i) nogil:
    return tokens[i].idx + tokens[i].lex.length


cdef class Scanner:
    """The scan tables (built by ``pipeline.SignalsComponent``) and the scan itself."""

    cdef const int64_t* codes            # type id -> flags
    cdef const double* val               # type id -> valence
    cdef const double* boost             # type id -> booster
    cdef const int64_t[:, :] direct      # (lower-case type id, lower-case type id) pairs
    cdef int64_t k                       # type ids above k are the capitals variants
    cdef double c_incr, n_scalar, alpha
    cdef PhraseTrie trie                 # the keyword phrases
    cdef object tables                   # keeps the arrays behind the pointers alive

    def __init__(self, codes, val, boost, direct, int k, double c_incr, double n_scalar,
                 double alpha, PhraseTrie trie):
        cdef const int64_t[::1] c = codes
        cdef const double[::1] v = val
        cdef const double[::1] b = boost
        self.tables = (codes, val, boost)
        self.codes = &c[0]
        self.val = &v[0]
        self.boost = &b[0]
        self.direct = direct
        self.k = k
        self.c_incr = c_incr
        self.n_scalar = n_scalar
        self.alpha = alpha
        self.trie = trie

    def scan(self, Doc doc):
        """Signals of one doc: its phrase matches judged (kept / dropped), then the scan."""
        cdef Signals sig = Signals()
        cdef int n = doc.length
        sig.words = n
        if n == 0:
            return sig
        cdef const TokenC* tokens = doc.c
        cdef int start, end, why, kind
        cdef vector[Match] matches
        cdef Match match
        self.trie.find(tokens, n, matches)
        cdef list tags = self.trie.tags
        for match in matches:
            start, end = match.start, match.end
            tag = tags[match.label]
            why = self._blocked(tokens, n, self.trie.kinds[match.label], start, end)
            if why:
                sig.dropped.append((tag, _char_start(tokens, start),
                                    _char_end(tokens, end - 1), _WHY[why]))
            else:
                sig.risks.append((tag, _char_start(tokens, start), _char_end(tokens, end - 1)))
        self._scan(tokens, n, sig)
        sig._order()
        return sig

    cdef inline int64_t _code(self, const TokenC* tokens, int i) nogil:
        return self.codes[tokens[i].lex.id & TYPE_MASK]

    cdef inline int64_t _base(self, int64_t t) nogil:
        return t - self.k if t > self.k else t

    cdef int _blocked(self, const TokenC* tokens, int n, int kind, int start, int end):
        """0 = kept; else an index into _WHY (negated, hedged, transactional object)."""
        cdef int64_t hedge = F_THEDGE if kind == K_THREAT else F_HEDGE
        cdef int64_t h
        cdef int j, x, k
        if kind == K_HUMAN:
            hedge = 0
        if self._code(tokens, start) & F_PRON:
            # the match opens its own clause ("... I'll cancel"); only "if I ..." hedges it
            if start > 0 and self._code(tokens, start - 1) & hedge:
                return 2
        else:
            j = start - 1
            while j >= 0 and j >= start - 5:
                h = self._code(tokens, j)
                if h & F_NEG:
                    if kind != K_HUMAN:
                        return 1
                    for x in range(j + 1, min(start, j + 3)):
                        if self._code(tokens, x) & F_DESIRE:
                            return 1
                if h & hedge:
                    return 2
                if h & F_PRON:
                    if j > 0 and self._code(tokens, j - 1) & hedge:
                        return 2
                    break
                if h & F_BREAK:
                    break
                j -= 1
        if kind == K_THREAT:
            k = end
            while k < n and self._code(tokens, k) & F_DET:
                k += 1
            if k < n and self._code(tokens, k) & F_TRANS:
                return 3
        return 0

    cdef double _squash(self, double score) nogil:
        """VADER's squashing of a summed valence into -1..1."""
        if score == 0.0:
            return 0.0
        cdef double value = score / sqrt(score * score + self.alpha)
        return max(-1.0, min(1.0, value))

    cdef void _scan(self, const TokenC* tokens, int n, Signals sig):
        """One pass: sentiment per sentence, exclaims, human request, problem, delay. Position
        n is a sentinel sentence end that closes the last sentence."""
        cdef double total = 0.0, sentiment_sum = 0.0, v, b, value
        cdef int hits = 0, sent_hits = 0, exclaims = 0, exclaims_total = 0, sentences = 0
        cdef int context = 0, punct_runs = 0, blame = 0
        cdef bint after_but = False, you = False, second_person = False, negated = False
        cdef int any_lower = -1
        cdef int verb_at = -1, neg_at = -9
        cdef int human_s = -1, human_e = -1, problem_s = -1, problem_e = -1
        cdef int delay_s = -1, delay_e = -1
        cdef int mod_pos[MAX_MODS]
        cdef int64_t mod_code[MAX_MODS]
        cdef int64_t mod_type[MAX_MODS]
        cdef int n_mods = 0, m, back, i, q
        cdef int64_t c, t, prev_t, d, form
        cdef bint caps_pair = False, money_hint = False
        cdef int64_t prev_form
        cdef double[3] falloff = [1.0, 0.95, 0.9]
        for i in range(n + 1):
            if i < n:
                t = tokens[i].lex.id
                form = t >> 32
                if form:
                    # inside a token, or across two tokens with no space between
                    prev_form = tokens[i - 1].lex.id >> 32 if i and not tokens[i - 1].spacy \
                        else 0
                    if not caps_pair:
                        caps_pair = form & W_CAPS2 or (form & W_UPSTART and prev_form & W_UPEND)
                    if not money_hint:
                        money_hint = form & W_MONEY or (
                            form & W_MONEY_HEAD and prev_form & W_MONEY_TAIL)
                t &= TYPE_MASK
                c = self.codes[t]
                if not c & (F_CAPS * 2 - 1):
                    continue
            else:
                t = 0
                c = F_END
            if c & F_END:
                if c & F_EXCL:
                    exclaims += 1
                d = self._code(tokens, i + 1) if i + 1 < n else 0
                if d & F_END:
                    # one sentence end; a run only of "!" / "?" ("Done.\n\n" is none)
                    if c & d & F_MARK:
                        punct_runs += 1
                    continue
                if sent_hits:
                    if exclaims:
                        v = min(exclaims, 4) * EMPHASIS
                        total += v if total > 0 else -v
                    value = self._squash(total)
                    sentiment_sum += value
                    sentences += 1
                    if you and value <= BLAME_AT:
                        blame += 1
                    total = 0.0
                    sent_hits = 0
                elif negated:
                    sentiment_sum += BARE_NEGATION
                    sentences += 1
                exclaims_total += exclaims
                exclaims = 0
                after_but = you = negated = False
                n_mods = 0
                verb_at = -1
                neg_at = -9
                continue
            if c & F_OTHER:
                if c & F_YOU:
                    you = second_person = True
                if c & F_CTX:
                    context += 1
                if c & F_TIME and delay_s < 0 and i and not self._code(tokens, i - 1) & F_ONE \
                        and Lexeme.c_check_flag(tokens[i - 1].lex, LIKE_NUM):
                    delay_s, delay_e = i - 1, i + 1
                if c & F_BUT:
                    if not after_but:
                        total *= BUT_BEFORE
                        after_but = True
                    continue
                if c & F_CONTACT:
                    verb_at = i
                if c & F_HUMAN and human_s < 0:
                    prev_t = tokens[i - 1].lex.id & TYPE_MASK if i else 0
                    if i and self.codes[prev_t] & F_DIRECT and \
                            self._is_direct(self._base(prev_t), self._base(t)):
                        human_s, human_e = i - 1, i + 1
                    elif verb_at >= 0 and i - verb_at <= 6:
                        human_s, human_e = verb_at, i + 1
                if c & F_FUNC and problem_s < 0 and i - neg_at <= 3:
                    problem_s, problem_e = neg_at, i + 1
            if c & (F_NEG | F_BOOST):
                if c & F_NEG:
                    neg_at = i
                    negated = True
                # keep the last MAX_MODS: older ones are more than 3 words back
                if n_mods == MAX_MODS:
                    for q in range(MAX_MODS - 1):
                        mod_pos[q] = mod_pos[q + 1]
                        mod_code[q] = mod_code[q + 1]
                        mod_type[q] = mod_type[q + 1]
                    n_mods -= 1
                mod_pos[n_mods] = i
                mod_code[n_mods] = c
                mod_type[n_mods] = t
                n_mods += 1
                continue
            if not c & F_VAL:
                continue
            v = self.val[t]
            sent_hits += 1
            hits += 1
            if c & F_CAPS:
                if any_lower < 0:   # capitals only emphasise in mixed-case text
                    any_lower = 0
                    for q in range(n):
                        if Lexeme.c_check_flag(tokens[q].lex, IS_LOWER):
                            any_lower = 1
                            break
                if any_lower:
                    v += self.c_incr if v > 0 else -self.c_incr
            m = n_mods - 1
            while m >= 0:
                back = i - mod_pos[m]
                if back > 3:
                    break
                if mod_code[m] & F_BOOST:
                    b = self.boost[mod_type[m]]
                    v += (b if v > 0 else -b) * falloff[back - 1]
                if mod_code[m] & F_NEG:
                    v *= self.n_scalar
                m -= 1
            if after_but:
                v *= BUT_AFTER
            total += v
        sig.context = context
        sig.punct_runs = punct_runs
        sig.blame = blame
        sig.exclaims = exclaims_total
        sig.second_person = second_person
        sig.sentiment_words = hits
        sig.sentence_count = sentences
        sig.caps_pair = caps_pair
        sig.money_hint = money_hint
        if sentences:
            sig.sentiment = sentiment_sum / sentences
        if problem_s >= 0:
            sig.risks.append(("problem", _char_start(tokens, problem_s),
                              _char_end(tokens, problem_e - 1)))
        if delay_s >= 0:
            sig.risks.append(("delay", _char_start(tokens, delay_s),
                              _char_end(tokens, delay_e - 1)))
        if human_s >= 0 and not self._blocked(tokens, n, K_HUMAN, human_s, human_e):
            for r in sig.risks:
                if r[0] == "human_request":
                    return
            sig.risks.append(("human_request", _char_start(tokens, human_s),
                              _char_end(tokens, human_e - 1)))

    cdef bint _is_direct(self, int64_t a, int64_t b):
        cdef Py_ssize_t r
        for r in range(self.direct.shape[0]):
            if self.direct[r, 0] == a and self.direct[r, 1] == b:
                return True
        return False
