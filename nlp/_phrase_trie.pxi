# The keyword phrase matcher of the signals scan (included into ``_signals.pyx``, compiled with
# it): phrases as sequences of NORM hashes in an open-addressing trie, read once per token run.

cdef struct Match:
    int label           # index into PhraseTrie.tags
    int start
    int end


cdef uint64_t MIX_A = 0x9E3779B97F4A7C15
cdef uint64_t MIX_B = 0xFF51AFD7ED558CCD


cdef inline uint64_t _edge_hash(int node, attr_t norm) noexcept nogil:
    cdef uint64_t h = norm ^ (<uint64_t>node * MIX_A)
    h ^= h >> 33
    h *= MIX_B
    return h ^ (h >> 33)


cdef class PhraseTrie:
    """Keyword phrases as sequences of NORM hashes, matched like spaCy's ``PhraseMatcher`` on
    NORM: every (tag, start, end) whose tokens spell a phrase, overlaps kept, ordered by start
    then end; tags sharing a phrase in the order they were added.

    Only tokens whose NORM can open a phrase start a walk: ``first_words`` go into a lexeme flag
    (``vocab.add_flag``, set once per word type), so the scan of a doc reads one bit per token
    and looks up the trie only where a phrase can begin. The trie's edges (node, NORM) -> child
    sit in one open-addressing table (linear probing, at most half full).
    """

    cdef vector[int] edge_node          # per slot: the parent node, -1 = empty slot
    cdef vector[attr_t] edge_norm
    cdef vector[int] edge_child
    cdef uint64_t mask
    cdef int edges
    cdef vector[vector[int]] labels     # per node: labels of phrases ending here
    cdef public int flag                # lexeme flag id, -1 = not set
    cdef readonly list tags             # label -> tag name
    cdef vector[int] kinds              # label -> K_PLAIN / K_THREAT / K_HUMAN

    def __init__(self):
        self.labels.push_back(vector[int]())   # node 0: the root
        self.flag = -1
        self.tags = []
        self.edges = 0
        self._rehash(64)

    cdef int _child(self, int node, attr_t norm) noexcept nogil:
        cdef uint64_t i = _edge_hash(node, norm) & self.mask
        while self.edge_node[i] != -1:
            if self.edge_node[i] == node and self.edge_norm[i] == norm:
                return self.edge_child[i]
            i = (i + 1) & self.mask
        return -1

    cdef void _put(self, int node, attr_t norm, int child) noexcept:
        cdef uint64_t i = _edge_hash(node, norm) & self.mask
        while self.edge_node[i] != -1:
            i = (i + 1) & self.mask
        self.edge_node[i] = node
        self.edge_norm[i] = norm
        self.edge_child[i] = child
        self.edges += 1

    cdef void _rehash(self, size_t size) noexcept:
        cdef vector[int] nodes = self.edge_node
        cdef vector[attr_t] norms = self.edge_norm
        cdef vector[int] children = self.edge_child
        cdef size_t i
        self.edge_node.assign(size, -1)
        self.edge_norm.assign(size, 0)
        self.edge_child.assign(size, 0)
        self.mask = size - 1
        self.edges = 0
        for i in range(nodes.size()):
            if nodes[i] != -1:
                self._put(nodes[i], norms[i], children[i])

    def add(self, str tag, norms) -> None:
        """One phrase (a non-empty sequence of NORM hashes) for ``tag``."""
        cdef int node = 0, child, label, known
        cdef attr_t norm
        if tag not in self.tags:
            self.tags.append(tag)
            self.kinds.push_back(K_HUMAN if tag == "human_request" else
                                 K_THREAT if tag in THREAT_TAGS else K_PLAIN)
        label = self.tags.index(tag)
        for norm in norms:
            child = self._child(node, norm)
            if child < 0:
                if 2 * (self.edges + 1) > <int>self.edge_node.size():
                    self._rehash(2 * self.edge_node.size())
                child = self.labels.size()
                self.labels.push_back(vector[int]())
                self._put(node, norm, child)
            node = child
        for known in self.labels[node]:
            if known == label:
                return
        self.labels[node].push_back(label)

    def first_words(self) -> set:
        """NORM hashes that open a phrase."""
        return {self.edge_norm[i] for i in range(self.edge_node.size()) if self.edge_node[i] == 0}

    def __call__(self, Doc doc) -> list:
        """(tag, start, end) of every phrase in ``doc``."""
        cdef vector[Match] found
        self.find(doc.c, doc.length, found)
        return [(self.tags[m.label], m.start, m.end) for m in found]

    cdef void find(self, const TokenC* tokens, int n, vector[Match]& out) noexcept:
        cdef int start, end, node
        cdef Match m
        cdef int label
        cdef flags_t bit = (<flags_t>1) << self.flag if self.flag >= 0 else 0
        for start in range(n):
            if bit and tokens[start].norm == 0 and not tokens[start].lex.flags & bit:
                continue
            node = self._child(0, _norm(&tokens[start]))
            end = start + 1
            while node >= 0:
                for label in self.labels[node]:
                    m.label, m.start, m.end = label, start, end
                    out.push_back(m)
                if end == n:
                    break
                node = self._child(node, _norm(&tokens[end]))
                end += 1
