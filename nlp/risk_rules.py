"""The risk tags' definitions as the detector reads them: the shipped defaults
(``nlp/default_risk.json``) with the manifest's ``risk_tags`` merged over them field by field,
each tag's patterns accent-folded and compiled (RE2 alternations and sets, ``re`` for what RE2
cannot take) into a ``TagRule``; and what the detector reports (``Hit``, ``Findings``)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import re2

from tiergate.nlp.semantic import fold

DEFAULT_PATH = Path(__file__).with_name("default_risk.json")
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.case_sensitive = False
_RE2_OPTIONS.max_mem = 256 << 20      # room for the DFA of the largest alternations
_RE2_OPTIONS.never_capture = True     # callers read the whole match only: no submatch work
LANGS = ("en", "de", "es", "fr", "pt")


@dataclass(frozen=True)
class Hit:
    tag: str
    sentence: str
    comment_index: int
    how: str                      # "pattern" | "semantic" | "model"
    detail: str                   # the matched words, the example sentence or the model score
    similarity: float | None = None


@dataclass
class Findings:
    hits: list[Hit] = field(default_factory=list)
    closing: bool = False          # the latest customer message closes the matter
    closing_sentence: str | None = None
    impact: str | None = None      # words that state impact
    dropped: list[str] = field(default_factory=list)   # why a candidate did not count
    auto_only: bool = False        # the customer's only messages are automatic replies
    settled_at: int | None = None  # the last earlier customer message that said it was solved
    unhurried: bool = False        # the latest customer message says there is no rush
    semantic_best: dict[str, float] = field(default_factory=dict)  # per tag, for calibration
    all_well: bool = False         # a message read says nothing is wrong ("not complaining")

    def tags(self) -> dict[str, Hit]:
        first: dict[str, Hit] = {}
        for h in self.hits:
            first.setdefault(h.tag, h)
        return first


def compile_patterns(by_lang: Mapping[str, Sequence[str]] | None) -> dict[str, list[re.Pattern]]:
    """One alternation per language, compiled by RE2 (one linear pass over the text whatever
    the number of patterns); an expression RE2 cannot take (look-behind, back-references) is
    compiled by ``re`` on its own."""
    out: dict[str, list[Any]] = {}
    for lang, pats in (by_lang or {}).items():
        folded = [fold_pattern(p) for p in pats]
        plain = [p for p in folded if _re2_ok(p)]
        out[lang] = ([re2.compile("|".join(f"(?:{p})" for p in plain), _RE2_OPTIONS)]
                     if plain else []) + [re.compile(p, re.I) for p in folded if p not in plain]
    return out


def candidate_sets(tags: Mapping[str, Any]) -> dict[str, tuple[Any, list[str], list]]:
    """Per language: an RE2 set of every tag's patterns and breakage (index -> tag name), and
    the expressions RE2 cannot take, compiled by ``re`` one by one."""
    by_lang: dict[str, tuple[list[str], list[str], list]] = {}
    for name, spec in tags.items():
        pats = dict(spec.get("patterns") or {})
        kws = spec.get("keywords") or []
        if kws:
            pats["any"] = list(pats.get("any", [])) + [r"\b" + re.escape(fold(k)) + r"\b"
                                                        for k in kws]
        for table in (pats, spec.get("breakage") or {}):
            for lang, items in table.items():
                exprs, names, singles = by_lang.setdefault(lang, ([], [], []))
                folded = [fold_pattern(p) for p in items]
                plain = [p for p in folded if _re2_ok(p)]
                if plain:
                    exprs.append("|".join(f"(?:{p})" for p in plain))
                    names.append(name)
                singles.extend((name, re.compile(p, re.I)) for p in folded if p not in plain)
    out: dict[str, tuple[Any, list[str], list]] = {}
    for lang, (exprs, names, singles) in by_lang.items():
        scan = None
        if exprs:
            scan = re2.Set.SearchSet(_RE2_OPTIONS)
            for e in exprs:
                scan.Add(e)
            scan.Compile()
        out[lang] = (scan, names, singles)
    return out


_ESCAPE = re.compile(r"(\\.)")


def fold_pattern(pattern: str) -> str:
    """A pattern folded like the text it reads (lower case, no accents), its escapes kept:
    ``\\S``, ``\\W`` and ``\\B`` must not become ``\\s``, ``\\w`` and ``\\b``."""
    return "".join(part if part.startswith("\\") else fold(part)
                   for part in _ESCAPE.split(pattern))


_RE2_UNSUPPORTED = re.compile(r"\(\?[=!<]|\\[1-9]")


def _re2_ok(pattern: str) -> bool:
    if _RE2_UNSUPPORTED.search(pattern):     # look-around, back-references: re only
        return False
    try:
        re2.compile(pattern, _RE2_OPTIONS)
        return True
    except Exception:   # re2.error: a construct RE2 does not support
        return False


@dataclass
class TagRule:
    name: str
    points: int
    patterns: dict[str, list[re.Pattern]]
    unless: dict[str, list[re.Pattern]]
    breakage: dict[str, list[re.Pattern]]
    needs_impact: bool
    state: bool
    semantic: bool
    threshold: float | None
    negatable: bool = True
    pipeline: bool = False       # the keyword pipeline's tag of this name also counts
    message: bool = False        # read over the whole message (irony spans sentences)
    model: bool = True           # the trained tag reader may add this tag (nlp.tagmodel)
    reader_veto: float | None = None   # a pattern hit yields when the reader scores below this
    message_unless: dict[str, list[re.Pattern]] = field(default_factory=dict)  # whole message


def load_defaults() -> dict[str, Any]:
    with open(DEFAULT_PATH, encoding="utf-8") as fh:
        return json.load(fh)


def merge_config(base: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    """The manifest's ``risk_tags`` over the defaults: a tag's fields replace the default's
    fields one by one; ``{"enabled": false}`` removes a tag."""
    tags = {k: dict(v) for k, v in base["tags"].items()}
    for name, spec in (override or {}).items():
        if spec.get("enabled") is False:
            tags.pop(name, None)
            continue
        merged = dict(tags.get(name, {}))
        merged.update({k: v for k, v in spec.items() if k != "enabled"})
        tags[name] = merged
    return {"tags": tags, "cues": base["cues"], "calm": base.get("calm", {})}


def langs_read(lang: str) -> tuple[str, ...]:
    if lang in LANGS and lang != "en":
        return (lang, "en")
    if lang == "en":
        return ("en",)
    return LANGS


def flat_phrases(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in v]
    return list(value)
