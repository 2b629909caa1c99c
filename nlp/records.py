"""JSON-lines input shared by ``tiergate score`` and ``tiergate train``.

Each line is one object with either ``"text": str`` or ``"comments": [str, ...]`` (customer
comments oldest first; objects ``{"body": str}`` are accepted too); training lines also carry
``"label": true|false`` (escalated or not) or ``"level": 0..N`` (how far it was escalated:
0 = not, 1 = to the next tier or a team, 2 = to management, ...; ``label`` true = level 1).
A bad line raises ``InputError`` naming the line number and the field.
"""
from __future__ import annotations

import json
from typing import Any, Iterable, Iterator

from tiergate.plugin.core.errors import TiergateError


class InputError(TiergateError):
    """A JSON line is not usable: ``line`` (1-based), ``field`` and why."""

    def __init__(self, line: int, field: str, message: str):
        super().__init__(f"line {line}: field {field!r}: {message}")
        self.line = line
        self.field = field
        self.message = message


def parse_comments(obj: Any, line: int) -> list[str]:
    if not isinstance(obj, dict):
        raise InputError(line, "<line>", f"expected a JSON object, got {type(obj).__name__}")
    if "comments" in obj and obj["comments"] is not None:
        comments = obj["comments"]
        if not isinstance(comments, list) or not comments:
            raise InputError(line, "comments", "must be a non-empty list of strings")
        out = []
        for i, c in enumerate(comments):
            if isinstance(c, dict):
                c = c.get("body", c.get("text"))
            if not isinstance(c, str):
                raise InputError(line, f"comments[{i}]", "must be a string (or {\"body\": str})")
            out.append(c)
        return out
    if "text" in obj:
        if not isinstance(obj["text"], str):
            raise InputError(line, "text", f"must be a string, got {type(obj['text']).__name__}")
        return [obj["text"]]
    raise InputError(line, "text", "missing: give \"text\" (string) or \"comments\" (list)")


def parse_label(obj: dict, line: int) -> bool:
    if "label" not in obj:
        raise InputError(line, "label", "missing: give true or false")
    value = obj["label"]
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise InputError(line, "label", f"must be true or false, got {value!r}")


MAX_LEVEL = 9


def parse_level(obj: dict, line: int) -> int:
    """``level`` (0..MAX_LEVEL) or ``label`` (true = 1); both given must agree."""
    if "level" not in obj:
        if "label" not in obj:
            raise InputError(line, "label", "missing: give \"label\" (true or false) or "
                             "\"level\" (0, 1, 2, ...)")
        return int(parse_label(obj, line))
    value = obj["level"]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LEVEL:
        raise InputError(line, "level", f"must be a whole number 0..{MAX_LEVEL}, got {value!r}")
    if "label" in obj and parse_label(obj, line) != (value > 0):
        raise InputError(line, "label", f"says {obj['label']!r} but level is {value}")
    return value


def iter_lines(lines: Iterable[str]) -> Iterator[tuple[int, Any]]:
    """(line number, decoded object) for each non-blank line."""
    for number, raw in enumerate(lines, 1):
        raw = raw.strip()
        if not raw:
            continue
        try:
            yield number, json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(number, "<line>", f"not valid JSON ({exc.msg} at column {exc.colno})")


def read_history(lines: Iterable[str]) -> tuple[list[str], list[int]]:
    """Training history -> (texts, levels); comments are joined with newlines."""
    texts, labels = [], []
    for number, obj in iter_lines(lines):
        comments = parse_comments(obj, number)
        labels.append(parse_level(obj, number))
        texts.append("\n".join(comments))
    return texts, labels
