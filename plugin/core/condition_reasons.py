"""How a held condition reads in a reason: compact, with numbers written as a person would.

A comparison reads as the quantity seen and the threshold: ``in tier 26 h, limit 24 h``,
``refund 1,200, limit 500``, ``attention score 82, limit 70``, ``customer contacts 4 in 24 h,
limit 3``. Authority checks read ``refund 1,200 above the current tier's limit``. Other operators
keep the condition's own words: ``priority is urgent (seen: urgent)``. Integers print without
``.0``; durations in the condition's unit (``min``, ``h``, ``d``).
"""
from __future__ import annotations

from typing import Any

from tiergate.plugin.core.model import ConditionResult, FiredTrigger

UNIT_ABBREV = {"minutes": "min", "hours": "h", "days": "d", "business_minutes": "business min",
               "business_hours": "business h", "business_days": "business d"}
_LABELS = {"time_in_tier": "in tier", "time_in_status": "in status", "reopen_count": "reopens",
           "comment_count": "comments", "sla.max_pct_elapsed": "SLA elapsed",
           "organization.account_value": "account value",
           "organization.renewal_in_days": "renewal in days", "amount.money": "amount"}
_THRESHOLD = {"greater_than": "limit", "greater_than_or_equal": "limit", "less_than": "under",
              "less_than_or_equal": "at most"}


def number(v: Any) -> str:
    """``24.0`` -> ``24``, ``1200`` -> ``1,200``, ``0.912`` -> ``0.91``, ``12.34`` -> ``12.3``."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if float(v).is_integer() or abs(v) >= 100:
        return f"{round(v):,}"
    digits = 1 if abs(v) >= 10 else 2
    return f"{v:.{digits}f}".rstrip("0").rstrip(".")


def duration(v: Any, unit: str) -> str:
    """An elapsed time in the condition's unit: ``26 h``, ``1.5 h``, ``45 min``."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    text = f"{round(v):,}" if abs(v) >= 10 or float(v).is_integer() else \
        f"{v:.1f}".rstrip("0").rstrip(".")
    return f"{text} {UNIT_ABBREV.get(unit, unit)}"


def label(field: str) -> str:
    """The field as a person names it: ``time_in_tier`` -> ``in tier``."""
    if field in _LABELS:
        return _LABELS[field]
    if field.startswith("amount."):
        return field.split(".", 1)[1]
    if field.startswith("sla.") and field.count(".") == 2:
        _, metric, attr = field.split(".")
        what = {"pct_elapsed": "elapsed", "remaining_minutes": "remaining"}.get(attr, attr)
        return f"{metric.replace('_', ' ')} {what}"
    return field.split(".")[-1].replace("_", " ") if field.startswith("organization.") \
        else field.replace("_", " ").replace(".", " ")


def _amount(field: str, v: Any) -> str:
    if field.endswith("pct_elapsed"):
        return f"{number(v)}%"
    if field.endswith("remaining_minutes"):
        return f"{number(v)} min"
    return number(v)


def explain_line(c: ConditionResult) -> str:
    exp, actual = c.expected, c.actual
    if c.operator in _THRESHOLD and actual is not None:
        words = _THRESHOLD[c.operator]
        if isinstance(exp, dict) and "unit" in exp:
            unit = exp["unit"]
            return f"{label(c.field)} {duration(actual, unit)}, {words} {duration(exp['value'], unit)}"
        if isinstance(exp, dict) and "window_hours" in exp:
            return (f"{label(c.field)} {number(actual)} in {number(exp['window_hours'])} h, "
                    f"{words} {number(exp['value'])}")
        if not isinstance(exp, (dict, str)):
            return f"{label(c.field)} {_amount(c.field, actual)}, {words} {_amount(c.field, exp)}"
    if c.operator in ("within_authority", "above_authority") and isinstance(exp, dict):
        tier = exp.get("tier") or "current"
        whose = "the current tier's" if tier == "current" else f"{tier}'s"
        where = "above" if c.operator == "above_authority" else "within"
        return f"{label(c.field)} {number(actual)} {where} {whose} limit"
    if isinstance(exp, dict) and "value" in exp:
        unit = UNIT_ABBREV.get(exp.get("unit"), exp.get("unit")) or \
            (f"in {number(exp['window_hours'])} h" if "window_hours" in exp else "")
        exp = f"{number(exp['value'])} {unit}".strip()
    elif isinstance(exp, (int, float)) and not isinstance(exp, bool):
        exp = number(exp)
    return f"{c.field} {c.operator.replace('_', ' ')} {exp if exp is not None else ''}".rstrip() \
        + f" (seen: {number(actual)})"


def trigger_reason(ft: FiredTrigger, description: str = "") -> str:
    held = [explain_line(c) for c in ft.conditions if c.held]
    head = f"{ft.name}" + (f" ({description})" if description else "")
    return f"{head}: " + ("; ".join(held) if held else "no conditions (always)")
