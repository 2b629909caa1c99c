"""Sandboxed rendering of the manifest's note templates (Jinja syntax, no code execution).

Templates are written by ops; the values they print are data only: quoted customer text is
passed in the context and never parsed as a template, and the immutable sandbox refuses
attribute access such as ``{{ ''.__class__ }}`` (``SecurityError``).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable, Mapping

from jinja2 import StrictUndefined, TemplateError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

_ENV = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined,
                                     trim_blocks=True, lstrip_blocks=True)


@lru_cache(maxsize=256)
def compile_template(source: str):
    """Parse once; raises ``jinja2.TemplateSyntaxError`` on bad syntax (the manifest check uses it)."""
    return _ENV.from_string(source)


def render(source: str, context: Mapping[str, Any]) -> str:
    return compile_template(source).render(**context).strip()


def template_variables(source: str) -> frozenset[str]:
    """The names a template reads from its context (raises ``TemplateSyntaxError``)."""
    return frozenset(meta.find_undeclared_variables(_ENV.parse(source)))


def check_template(source: str, allowed: Iterable[str] | None = None) -> list[str]:
    """Problems with a template, one readable message each (empty when fine): syntax errors and,
    when ``allowed`` is given, variables the renderer does not provide."""
    try:
        names = template_variables(source)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        return [f"template syntax error{f' on line {line}' if line else ''}: {exc}"]
    if allowed is None:
        return []
    unknown = sorted(names - set(allowed))
    if unknown:
        return [f"unknown template variable(s) {', '.join(unknown)}; allowed: "
                f"{', '.join(sorted(allowed))}"]
    return []


__all__ = ["render", "compile_template", "template_variables", "check_template",
           "TemplateError", "SecurityError"]
