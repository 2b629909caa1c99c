"""The manifest's ``risk_tags`` section: how ops define or tune a risk tag.

    "risk_tags": {
      "security": {"keywords": ["api key leaked"], "examples": ["We see logins from abroad"],
                   "negatives": ["How do I enable 2FA?"], "threshold": 0.6},
      "spam": {"enabled": false}
    }

Each field replaces the shipped default's field of the same tag (``nlp/default_risk.json``);
``patterns`` / ``unless`` / ``breakage`` map a language code (or ``any``) to regular expressions
over accent-folded lower-case text, ``examples`` / ``negatives`` are sentences (a list, or a
mapping of language code to list) the semantic layer matches sentences against.
"""
from __future__ import annotations

import re

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

LANG_KEY = re.compile(r"^([a-z]{2}|any)$")


class _Regexes(fields.Dict):
    """{language: [regex, ...]}; every expression must compile."""

    def __init__(self, **kw):
        super().__init__(keys=fields.String(validate=validate.Regexp(
            LANG_KEY, error="a two-letter language code or 'any'")),
            values=fields.List(fields.String(validate=validate.Length(min=1))), **kw)

    def _deserialize(self, value, attr, data, **kwargs):
        out = super()._deserialize(value, attr, data, **kwargs)
        errors = {}
        for lang, pats in out.items():
            for i, p in enumerate(pats):
                try:
                    re.compile(p)
                except re.error as exc:
                    errors.setdefault(lang, {})[i] = [f"not a regular expression: {exc}"]
        if errors:
            raise ValidationError(errors)
        return out


class _Sentences(fields.Field):
    """A list of sentences, or {language: [sentences]}."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list) and all(isinstance(s, str) and s.strip() for s in value):
            return list(value)
        if isinstance(value, dict) and all(
                isinstance(k, str) and LANG_KEY.match(k) and isinstance(v, list)
                and all(isinstance(s, str) and s.strip() for s in v) for k, v in value.items()):
            return {k: list(v) for k, v in value.items()}
        raise ValidationError("a list of non-empty sentences, or {language: [sentences]}")


class RiskTagSchema(Schema):
    class Meta:
        unknown = RAISE

    enabled = fields.Boolean(load_default=True, metadata={"description": "false removes the tag."})
    points = fields.Integer(validate=validate.Range(min=0, max=100),
                            metadata={"description": "Attention points when the tag is found."})
    keywords = fields.List(fields.String(validate=validate.Length(min=1)),
                           metadata={"description": "Plain phrases, any language."})
    patterns = _Regexes(metadata={"description": "Regular expressions by language."})
    unless = _Regexes(metadata={"description": "Near-misses that cancel the tag in a sentence."})
    message_unless = _Regexes(metadata={"description": "Near-misses read over the whole "
                                        "message: they cancel the tag's hits in it."})
    breakage = _Regexes(metadata={"description": "Symptoms that need impact to count."})
    examples = _Sentences(metadata={"description": "Sentences that carry the tag."})
    negatives = _Sentences(metadata={"description": "Near-miss sentences that do not."})
    threshold = fields.Float(validate=validate.Range(min=0.0, max=1.0), allow_none=True,
                             metadata={"description": "Semantic similarity needed (calibrated)."})
    semantic = fields.Boolean(metadata={"description": "Match example sentences (default true)."})
    state = fields.Boolean(metadata={"description": "A state: not counted when fixed or past."})
    needs_impact = fields.Boolean(metadata={"description": "Counts only with impact stated."})
    pipeline = fields.Boolean(metadata={"description": "The keyword pipeline's tag of this "
                                                        "name also counts."})
    negatable = fields.Boolean(metadata={"description": "A negator before the match cancels it."})
    reader_veto = fields.Float(validate=validate.Range(min=0.0, max=1.0), allow_none=True,
                               metadata={"description": "A pattern hit yields when the trained "
                                         "tag reader scores the customer's words below this."})

    @validates("examples")
    def _some(self, value, **kw):
        if not value:
            raise ValidationError("at least one example sentence")


def risk_tags_field() -> fields.Dict:
    return fields.Dict(keys=fields.String(validate=validate.Regexp(
        r"^[a-z][a-z0-9_]*$", error="lower-case letters, digits and _")),
        values=fields.Nested(RiskTagSchema), load_default=dict,
        metadata={"description": "Risk tags of the detector: keywords, patterns, example "
                                 "sentences, thresholds (defaults: nlp/default_risk.json)."})
