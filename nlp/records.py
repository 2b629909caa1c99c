"""JSON-lines input shared by ``tiergate score`` and ``tiergate train``.

Each line is one object with either ``"text": str`` or ``"comments": [str, ...]`` (customer
comments oldest first; objects ``{"body": str}`` are accepted too); training lines also carry
``"label": true|false`` (escalated or not) or ``"level": 0..N`` (how far it was escalated:
0 = not, 1 = to the next tier or a team, 2 = to management, ...; ``label`` true = level 1).
A bad line raises ``InputError`` naming the line number and the field. A line's ``"id"`` (the
ticket id ``tiergate backfill --history`` writes) lets ``read_labelled`` replace its level with a
reviewer's verdict.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

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
    rows = read_labelled(lines)
    return rows.texts, rows.levels


@dataclass
class LabelledRows:
    """The rows a model is trained on: ``ids[i]`` (the line's ``id`` or None), ``texts[i]``,
    ``levels[i]``; ``relabelled`` maps a row's index to its level from the history before a
    verdict replaced it."""

    ids: list[Any] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    levels: list[int] = field(default_factory=list)
    relabelled: dict[int, int] = field(default_factory=dict)


def read_labelled(lines: Iterable[str],
                  relabel: Callable[[Any, int], int | None] | None = None) -> LabelledRows:
    """Training history -> ``LabelledRows``. ``relabel(id, level)`` gives a row's new level (a
    reviewer's verdict) or None to keep the one the history derived."""
    rows = LabelledRows()
    for number, obj in iter_lines(lines):
        comments = parse_comments(obj, number)
        level = parse_level(obj, number)
        row_id = obj.get("id")
        new = relabel(row_id, level) if relabel is not None and row_id is not None else None
        if new is not None:
            if isinstance(new, bool) or not isinstance(new, int) or not 0 <= new <= MAX_LEVEL:
                raise InputError(number, "level", f"verdict level must be 0..{MAX_LEVEL}, got {new!r}")
            rows.relabelled[len(rows.levels)] = level
            level = new
        rows.ids.append(row_id)
        rows.texts.append("\n".join(comments))
        rows.levels.append(level)
    return rows
