"""The compiled form of one condition (``Compiled``): closures over ``Facts`` plus its inline source.

Produced by ``condition_compile``, turned into generated code by ``condition_codegen``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping

from tiergate.plugin.core.condition_facts import Facts
from tiergate.plugin.core.model import ConditionResult


@dataclass(frozen=True)
class Compiled:
    """One compiled condition: ``test(facts) -> bool``; ``actual(facts)`` for explanations;
    ``flip_at(facts)`` the next instant its truth may change by time alone (or None)."""

    path: str
    field: str
    operator: str
    expected: Any
    test: Callable[[Facts], bool]
    actual: Callable[[Facts], Any]
    flip_at: Callable[[Facts], datetime | None] | None = None
    source: str = ""                      # inline Python expression over f, t, e, now
    bindings: Mapping[str, Any] = field(default_factory=dict)

    def result(self, f: Facts) -> ConditionResult:
        return ConditionResult(self.path, self.field, self.operator, self.expected,
                               _jsonable(self.actual(f)), bool(self.test(f)))


def _jsonable(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 2)
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, (tuple, frozenset, set)):
        return list(v)
    return v
