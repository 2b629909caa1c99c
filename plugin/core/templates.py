"""Sandboxed rendering of the manifest's note templates (Jinja syntax, no code execution).

Templates are written by ops; the values they print are data only: quoted customer text is
passed in the context and never parsed as a template, and the immutable sandbox refuses
attribute access such as ``{{ ''.__class__ }}`` (``SecurityError``).

Limits (``TemplateLimitError``, a ``SecurityError``, so callers' ``TemplateError`` fallbacks
apply): a CPU budget counted in executed template lines (``MAX_STEPS``, deterministic: no clock
is read) and a memory budget: the output, and every value a call, filter or operator produces,
stays within ``MAX_CHARS`` characters/items; size-making arguments (``center(10**9)``,
``'x' * 10**9``, ``10 ** 10 ** 8``, ``'%099999999d'``) are refused before anything is allocated.
"""
from __future__ import annotations

import re
import sys
from functools import lru_cache, wraps
from typing import Any, Iterable, Mapping

from jinja2 import StrictUndefined, TemplateError, meta
from jinja2.compiler import CodeGenerator
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_CHARS = 65_536        # output, and any one value made while rendering
MAX_STEPS = 300_000       # template lines executed per render (a loop body counts each time)
MAX_POW_BITS = 4_096      # ``a ** b`` may make an integer of at most this many bits
_SIZE_FILTERS = frozenset({"center", "indent", "wordwrap", "truncate", "format", "filesizeformat"})
_SIZE_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "format", "format_map"})
_DIGITS = re.compile(r"\d+")


class TemplateLimitError(SecurityError):
    """A template went over its CPU or memory budget."""


def _check_size(value: Any, what: str) -> Any:
    if isinstance(value, (str, bytes, list, tuple, dict, set)) and len(value) > MAX_CHARS:
        raise TemplateLimitError(f"template {what} made a value of {len(value)} characters/items "
                                 f"(limit {MAX_CHARS})")
    return value


def _check_args(args: Iterable[Any], what: str) -> None:
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_CHARS:
            raise TemplateLimitError(f"template {what}: size argument {arg} is over the limit {MAX_CHARS}")
        if isinstance(arg, str) and any(len(d) > 5 and int(d) > MAX_CHARS for d in _DIGITS.findall(arg)):
            raise TemplateLimitError(f"template {what}: a width in the format is over the limit {MAX_CHARS}")


def _guarded_filter(name: str, func: Any) -> Any:
    @wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if name in _SIZE_FILTERS:
            _check_args([*args, *kwargs.values()], f"filter {name}")
        return _check_size(func(*args, **kwargs), f"filter {name}")
    return guarded


class _CheckedConcat(CodeGenerator):
    """``a ~ b`` (string concatenation) goes through ``environment.checked_concat``."""

    def visit_Concat(self, node: Any, frame: Any) -> None:
        self.write("environment.checked_concat(")
        super().visit_Concat(node, frame)
        self.write(")")


class _LimitedEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _CheckedConcat

    @staticmethod
    def checked_concat(value: Any) -> Any:
        return _check_size(value, "'~'")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_CHARS:
                    raise TemplateLimitError(f"template '*' would make {len(seq) * n} characters/items "
                                             f"(limit {MAX_CHARS})")
        elif operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
            if max(1, abs(left).bit_length()) * right > MAX_POW_BITS and abs(left) > 1:
                raise TemplateLimitError(f"template '**' would make an integer over {MAX_POW_BITS} bits")
        elif operator == "%" and isinstance(left, str):
            _check_args([left], "'%' format")
        return _check_size(super().call_binop(context, operator, left, right), f"'{operator}'")

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        if getattr(__obj, "__name__", None) in _SIZE_METHODS or __obj is range:
            bound = getattr(__obj, "__wrapped__", __obj)     # the sandbox wraps str.format
            _check_args([getattr(bound, "__self__", None), *args, *kwargs.values()], "call")
        return _check_size(super().call(__context, __obj, *args, **kwargs), "call")


def _budgeted(render_chunks: Iterable[str]) -> str:
    """Join the chunks a template yields, counting its executed lines (``sys.settrace`` on this
    thread, template frames only) and the output size."""
    steps = 0

    def local(frame, event, arg):
        nonlocal steps
        if event == "line":
            steps += 1
            if steps > MAX_STEPS:
                raise TemplateLimitError(f"template used more than its CPU budget of {MAX_STEPS} steps")
        return local

    def global_(frame, event, arg):
        return local if frame.f_code.co_filename == "<template>" else None

    previous = sys.gettrace()
    out, size = [], 0
    sys.settrace(global_)
    try:
        for chunk in render_chunks:
            size += len(chunk)
            if size > MAX_CHARS:
                raise TemplateLimitError(f"template output over {MAX_CHARS} characters")
            out.append(chunk)
    finally:
        sys.settrace(previous)
    return "".join(out)

_ENV = _LimitedEnvironment(autoescape=False, undefined=StrictUndefined,
                           trim_blocks=True, lstrip_blocks=True)
_ENV.filters = {name: _guarded_filter(name, f) for name, f in _ENV.filters.items()}


@lru_cache(maxsize=256)
def compile_template(source: str):
    """Parse once; raises ``jinja2.TemplateSyntaxError`` on bad syntax (the manifest check uses it)."""
    return _ENV.from_string(source)


def render(source: str, context: Mapping[str, Any]) -> str:
    """Render within the CPU and memory limits (``TemplateLimitError`` past them)."""
    return _budgeted(compile_template(source).generate(**context)).strip()


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
           "TemplateError", "SecurityError", "TemplateLimitError", "MAX_CHARS", "MAX_STEPS"]
