"""How a risk phrase sits in its sentence: negated in its own clause ("I'm not going to sue"),
cited in quotation marks, the sentence that holds it, an outage named as such."""
from __future__ import annotations

import re

from tiergate.nlp.risk_rules import Findings, TagRule
from tiergate.nlp.semantic import fold
from tiergate.plugin.core.sentences import sentences

_NEGATORS = {   # per language: Portuguese "no" / "na" mean "in the", never "not"
    "en": r"not|never|no|nothing|neither|nor|dont|don't|didn't|won't|wouldn't|isn't",
    "de": r"nicht|nichts|kein\w*|nie|niemals", "es": r"no|nunca|jamas|tampoco|nada",
    "fr": r"pas|jamais|rien", "pt": r"nao|nunca|jamais|nem|nada",
}
_NEGATOR = {lang: re.compile(rf"\b({words})\b|n't\b") for lang, words in _NEGATORS.items()}
_ANY_NEGATOR = re.compile(r"\b(" + "|".join(sorted({w for ws in _NEGATORS.values()
                                                     for w in ws.split("|")})) + r")\b|n't\b")
_PRONOUN_START = re.compile(r"(i|we|i'?ll|we'?ll|i'?m|we'?re|ich|wir|je|nous|yo|nosotros|eu|nos)\b")
# "I won't hesitate to", "je n'exclus pas", "no descarto": a negated doubt affirms the threat
_LITOTES = re.compile(r"\b(hesitat\w*|rule out|ruling out|exclu\w*|hesit\w*|dudar\w*|dude|"
                      r"descart\w*|zoger\w*|ausschlie\w*|ausgeschlossen|duvid\w*)\b")
# "I don't know if you are incompetent or idiots": doubt about which, not a denial
_UNSURE = re.compile(r"\b(don'?t know|do not know|not sure|no se|nao sei|ne sais pas|"
                     r"ne sait pas|weiss nicht),? (if|whether|si|se|ob) (you|you'?re|your|sois|"
                     r"son|eres|es usted|vous|voces|voce|ihr|sie)\b")
# ... but "don't hesitate to call me" is a courtesy to the reader, not a threat
_COURTESY = re.compile(r"\b(don'?t|do not|please) hesitate|n'hesitez|"
                       r"\bno (dude|duden|dudes|dudeis)\b|\bnao hesite\w*|\bzogern sie\b")
# "if this isn't fixed before our renewal, we're done": a negated condition, not a denial
_CONDITION = re.compile(r"\b(if|unless|wenn|falls|sofern|si|se|caso)\b")
_CLAUSE = re.compile(r"[,;:.!?\n]|\s[-–—]+\s|\b(but|and|aber|und|pero|y|mais|et|mas|e)\b")


def negated(folded: str, start: int, lang: str = "en") -> bool:
    """A negator of the text's language (or English, read everywhere) among the last four
    words of the match's own clause ("I'm not going to sue you", "I do not want to speak to a
    manager"); a language without its own list reads every list's negators."""
    if _PRONOUN_START.match(folded, start):
        return False        # "If this isn't fixed I'll cancel": the threat opens its own clause
    before = folded[:start]
    cut = 0
    for m in _CLAUSE.finditer(before):
        cut = m.end()
    words = " ".join(before[cut:].split()[-4:])
    if (_LITOTES.search(words) and not _COURTESY.search(words)) or _UNSURE.search(
            " ".join(before[cut:].split()[-6:]) + " " + folded[start:start + 16]):
        return False        # "I won't hesitate to sue", "I don't know if you are idiots"
    negators = _ANY_NEGATOR if lang not in _NEGATOR else _NEGATOR[lang]
    found = negators.search(words) or (lang != "pt" and _NEGATOR["en"].search(words))
    if not found:
        return False
    clause = before[cut:]
    condition = _CONDITION.search(clause)
    return not (condition and condition.start() < clause.rfind(found.group(0)))


_QUOTE_MARKS = re.compile(r'["“”«»„]')


def in_quotes(folded: str, start: int) -> bool:
    """The match sits inside a quotation the sentence opens and closes ('a banner saying
    "please call us"', 'a reply saying "should be fixed now"'): words cited, not said."""
    before = len(_QUOTE_MARKS.findall(folded, 0, start))
    return before % 2 == 1 and bool(_QUOTE_MARKS.search(folded, start))


def has_explicit(found: Findings, rule: TagRule) -> bool:
    """An outage named as such ("outage", "downtime") by a pattern, not only a symptom."""
    return any(h.tag == rule.name and h.how == "pattern" and any(
        p.search(fold(h.detail)) for ps in rule.patterns.values() for p in ps)
        for h in found.hits)


def sentence_of(text: str, folded: str, m: re.Match) -> str:
    for s in sentences(text):
        if m.group(0) in fold(s):
            return s
    return text[:160]


_CONTRAST = re.compile(r"\b(but|however|yet|although|though|aber|jedoch|doch|trotzdem|pero|sin embargo|"
                       r"mais|cependant|pourtant|porem|contudo|entretanto)\b")


def contrasted(folded: str, start: int, end: int) -> bool:
    """A contrast word ("but", "aber", "pero", "mais", "porém") between ``start`` and ``end``:
    "the status page says all is fine, but every call fails" - what follows it stands."""
    return start < end and _CONTRAST.search(folded, start, end) is not None
