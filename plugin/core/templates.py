"""Sandboxed rendering of the manifest's note templates (Jinja syntax, no code execution)."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

_ENV = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined,
                                     trim_blocks=True, lstrip_blocks=True)


@lru_cache(maxsize=256)
def compile_template(source: str):
    """Parse once; raises ``jinja2.TemplateSyntaxError`` on bad syntax (the manifest check uses it)."""
    return _ENV.from_string(source)


def render(source: str, context: Mapping[str, Any]) -> str:
    return compile_template(source).render(**context).strip()


__all__ = ["render", "compile_template", "TemplateError"]
