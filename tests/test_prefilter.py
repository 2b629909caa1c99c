"""The RE2 pre-test never hides a match the ``re`` pattern would find."""
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from tiergate.nlp import reading
from tiergate.plugin.core import stakes
from tiergate.plugin.core.prefilter import Prefiltered, loosened

PREFILTERED = [p for mod in (stakes, reading) for p in vars(mod).values()
               if isinstance(p, Prefiltered)]
# pieces the patterns look for, in several languages and scripts, to build texts that match
PIECES = ["the whole office", "by Friday", "within 30 days", "bis zum 5.", "3rd time",
          "écrit 4 fois", "emailed you 3 times", "chasing this for weeks", "seit Wochen frage ich",
          "12k users", "out of office", "for context", "alle 40 Mitarbeiter",
          "ninguna de las tiendas", "ça", "Straße", "ß", "é", "\u00a0", "\n", "  ", "no one can",
          "todo el equipo", "x-mal", ".", "!"]


def test_every_costly_pattern_has_a_pre_test():
    assert len(PREFILTERED) >= 9
    assert all(p._pre is not None for p in PREFILTERED)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=12)), max_size=12))
def test_the_pre_test_accepts_every_text_the_pattern_matches(parts):
    text = " ".join(parts)
    for p in PREFILTERED:
        if p.pattern.search(text):
            assert p.possible(text), (p.pattern.pattern[:80], text)
        assert [m.span() for m in p.finditer(text)] == \
            [m.span() for m in p.pattern.finditer(text)]


def test_loosening_drops_boundaries_anchors_and_look_arounds():
    assert loosened(r"^\bab(?!c)(?<=b)d$") == "abd"
    assert loosened(r"a\wb") == r"a[\pL\pN\pM_]b"
    assert loosened(r"[\w.]+") is None          # a class escape inside brackets: no pre-test
    assert loosened(r"(a)\1") is None            # a back-reference
    p = Prefiltered(re.compile(r"\bstraße\b", re.I))
    assert p.search("Die ganze STRASSE") is None and p.search("die Straße ist zu")
