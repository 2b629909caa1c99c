# cython: language_level=3, boundscheck=False, wraparound=False
"""``amounts.find_amounts`` for ASCII text, in C: one pass for the numbers and one for the request
words, over the lower-cased text's bytes, with the same rules as the regular expressions of
``amounts.py`` (which still serve every other text, and against which tests check this one).

Numbers, as ``D{1,3}(,DDD)+(.D+)? | D+(.D+)?`` finds them left to right: at a digit, the first
form if some 3-, 2- or 1-digit head is followed by at least one ",DDD" group (the groups and a
".D+" taken greedily), else the second. Request words, as ``(alternatives)\\b`` finds them: at
each position the longest word that ends at a word boundary, the search going on after it.
"""
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.string cimport memcmp


cdef inline bint _digit(char c) noexcept nogil:
    return b"0" <= c <= b"9"


cdef inline bint _letter(char c) noexcept nogil:
    return b"a" <= c <= b"z" or b"A" <= c <= b"Z"


cdef inline bint _word(char c) noexcept nogil:
    return _letter(c) or _digit(c) or c == b"_"


cdef inline bint _space(char c) noexcept nogil:
    """str.isspace() on ASCII: \\t \\n \\v \\f \\r, the separators 0x1c-0x1f, space."""
    return c == b" " or b"\t" <= c <= b"\r" or 0x1c <= c <= 0x1f


cdef Py_ssize_t _digits(const char* s, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    while i < n and _digit(s[i]):
        i += 1
    return i


cdef Py_ssize_t _decimals(const char* s, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    """After an optional ".D+" at ``i``."""
    if i + 1 < n and s[i] == b"." and _digit(s[i + 1]):
        return _digits(s, i + 1, n)
    return i


cdef Py_ssize_t _number_end(const char* s, Py_ssize_t p, Py_ssize_t n) noexcept nogil:
    """End of the number starting at the digit ``p``."""
    cdef Py_ssize_t head, q, run = _digits(s, p, n) - p
    for head in range(min(run, 3), 0, -1):
        q = p + head
        if q + 3 < n and s[q] == b"," and _digit(s[q + 1]) and _digit(s[q + 2]) \
                and _digit(s[q + 3]):
            while q + 3 < n and s[q] == b"," and _digit(s[q + 1]) and _digit(s[q + 2]) \
                    and _digit(s[q + 3]):
                q += 4
            return _decimals(s, q, n)
    return _decimals(s, p + run, n)


cdef struct Words:
    int count
    const char* text[32]
    Py_ssize_t size[32]
    bint first[256]         # some word starts with this byte


cdef Words _words(list items) except *:
    """C view of a list of bytes (the list keeps them alive)."""
    cdef Words out
    cdef bytes w
    out.count = len(items)
    if out.count > 32:
        raise ValueError("at most 32 words")
    for i in range(256):
        out.first[i] = False
    for i, w in enumerate(items):
        out.text[i] = w
        out.size[i] = len(w)
        out.first[w[0]] = True
    return out


cdef inline int _match_end(const char* s, Py_ssize_t p, Py_ssize_t n, Words* ws) noexcept nogil:
    """Index of the first of ``ws`` that ``s[p:n]`` starts with, or -1."""
    cdef int i
    if not ws.first[<unsigned char>s[p]]:
        return -1
    for i in range(ws.count):
        if ws.size[i] <= n - p and s[p] == ws.text[i][0] and \
                memcmp(s + p, ws.text[i], ws.size[i]) == 0:
            return i
    return -1


cdef inline bint _ends_with(const char* s, Py_ssize_t b, Py_ssize_t e, Words* ws) noexcept nogil:
    """Whether ``s[b:e]`` ends with one of ``ws``."""
    cdef int i
    for i in range(ws.count):
        if ws.size[i] <= e - b and memcmp(s + e - ws.size[i], ws.text[i], ws.size[i]) == 0:
            return True
    return False


def off_follows(str between, frozenset units) -> bool:
    """Whether "off" directly follows an amount ("$20 off", "20 euros off"), not a charge
    that "came off the card"."""
    between = between.strip()
    return not between or between.rstrip("s") in units


cdef class AsciiAmounts:
    """``find_amounts`` for ASCII text; called with the text lower-cased."""

    cdef list keep                  # the bytes behind the C views below
    cdef Words words, pre, post, hints   # request words: the longest first
    cdef list kinds                 # kind of each request word
    cdef int off                    # "off", which only counts after the amount ("$20 off")
    cdef frozenset units            # what may stand between the amount and "off"
    cdef Py_ssize_t window, reach

    def __init__(self, kinds: dict, pre, post, hints, int window):
        ascii_only = lambda xs: [x.encode() for x in xs if x.isascii()]   # noqa: E731
        ordered = sorted(kinds, key=lambda w: -len(w))
        words = [w.encode() for w in ordered]
        pre, post, hints = ascii_only(pre), ascii_only(post), ascii_only(hints)
        self.keep = [words, pre, post, hints]
        self.words, self.pre, self.post, self.hints = \
            _words(words), _words(pre), _words(post), _words(hints)
        self.kinds = [kinds[w] for w in ordered]
        self.off = ordered.index("off") if "off" in ordered else -1
        self.units = frozenset(x.decode() for x in post)
        self.window = window
        self.reach = window + max(len(w) for w in words) + 1

    def __call__(self, str lower) -> dict:
        cdef Py_ssize_t n
        cdef const char* s = PyUnicode_AsUTF8AndSize(lower, &n)
        if not self._has_hint(s, n):
            return {}
        cdef list found = self._numbers(lower, s, n)
        if not found:
            return {}
        cdef Py_ssize_t lo = max(0, min([f[0] for f in found]) - self.reach)
        cdef Py_ssize_t hi = min(n, max([f[1] for f in found]) + self.reach)
        cdef list kinds = self._request_words(s, lo, hi)
        if not kinds:
            return {}
        cdef dict out = {}
        cdef Py_ssize_t a_start, a_end, start, end, gap
        cdef int word
        for a_start, a_end, value in found:
            best = None
            for start, end, word in kinds:
                if word == self.off and (start < a_end or
                                         not off_follows(lower[a_end:start], self.units)):
                    continue  # "off" only counts right after the amount: "$20 off"
                gap = a_start - end if end <= a_start else \
                    (start - a_end if start >= a_end else 0)
                if 0 <= gap <= self.window and (best is None or gap < best[0] or
                                                (gap == best[0] and end <= a_start)):
                    best = (gap, self.kinds[word])
            if best is not None:
                out[best[1]] = max(out.get(best[1], 0.0), value)
        return out

    cdef bint _has_hint(self, const char* s, Py_ssize_t n) noexcept:
        cdef Py_ssize_t i
        for i in range(n):
            if _match_end(s, i, n, &self.hints) >= 0:
                return True
        return False

    cdef list _numbers(self, str lower, const char* s, Py_ssize_t n):
        """(start, end, value) of the numbers with a currency sign / word next to them."""
        cdef list out = []
        cdef Py_ssize_t p = 0, q, b0, e, a0, a1
        cdef double scale
        while p < n:
            if not _digit(s[p]):
                p += 1
                continue
            q = _number_end(s, p, n)
            # before: up to 4 characters, trailing spaces dropped, ending in a sign / code
            b0 = max(0, p - 4)
            e = p
            while e > b0 and _space(s[e - 1]):
                e -= 1
            # after: within 10 characters, leading spaces dropped, an optional "k", a code / word
            a0 = q
            a1 = min(n, q + 10)
            while a0 < a1 and _space(s[a0]):
                a0 += 1
            scale = 1.0
            if a0 < a1 and s[a0] == b"k" and not (a0 + 1 < a1 and _letter(s[a0 + 1])):
                scale = 1000.0
                a0 += 1
                while a0 < a1 and _space(s[a0]):
                    a0 += 1
            if _ends_with(s, b0, e, &self.pre) or _match_end(s, a0, a1, &self.post) >= 0:
                out.append((p, q, float(lower[p:q].replace(",", "")) * scale))
            p = q
        return out

    cdef list _request_words(self, const char* s, Py_ssize_t lo, Py_ssize_t hi):
        """(start, end, word index) of the request words in ``lo:hi`` that start a word."""
        cdef list out = []
        cdef Py_ssize_t p = lo, m, i
        cdef bint hit
        while p < hi:
            if not self.words.first[<unsigned char>s[p]]:
                p += 1
                continue
            hit = False
            for i in range(self.words.count):
                m = self.words.size[i]
                if s[p] == self.words.text[i][0] and p + m <= hi and \
                        memcmp(s + p, self.words.text[i], m) == 0 and \
                        (p + m == hi or not _word(s[p + m])):
                    if p == 0 or not _word(s[p - 1]):
                        out.append((p, p + m, i))
                    p += m
                    hit = True
                    break
            if not hit:
                p += 1
        return out
