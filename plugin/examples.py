"""The example-ticket format (``examples/tickets.jsonl``, documented in the README) and its reader,
shared by ``tiergate demo`` and ``tiergate simulate``."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import click

from tiergate.plugin.core.model import parse_time


def read_examples(path: Path, check=None) -> list[dict[str, Any]]:
    """One ticket per JSON line; a bad line is a usage error naming its number and field.
    ``check(row)``: a further check returning "field: reason" for a bad row, or None."""
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise click.UsageError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise click.UsageError(f"{path}:{number}: must be a JSON object")
        for name in ("subject", "description"):
            if not isinstance(row.get(name), str):
                raise click.UsageError(f"{path}:{number}: {name}: required string")
        problem = _comments_problem(row.get("comments"))
        problem = problem or (check(row) if check is not None else None)
        if problem:
            raise click.UsageError(f"{path}:{number}: {problem}")
        rows.append(row)
    if not rows:
        raise click.UsageError(f"{path}: no tickets")
    return rows


AUTHORS = ("customer", "agent", "internal")     # internal: an agent's private note


def by_customer(comment: Mapping[str, Any]) -> bool:
    """An example comment's author is the requester (``author`` absent or "customer")."""
    return comment.get("author", "customer") == "customer"


def is_public(comment: Mapping[str, Any]) -> bool:
    """An example comment is public unless ``public`` is false or it is an internal note."""
    return bool(comment.get("public", True)) and comment.get("author") != "internal"


def _comments_problem(comments: Any) -> str | None:
    if comments is None:
        return None
    if not isinstance(comments, list):
        return "comments: must be a list"
    for i, c in enumerate(comments):
        if not isinstance(c, dict):
            return f"comments[{i}]: must be an object"
        if c.get("author", "customer") not in AUTHORS:
            return f"comments[{i}].author: must be one of {', '.join(AUTHORS)}"
        if not isinstance(c.get("body"), str):
            return f"comments[{i}].body: required string"
    return None


def parse_now(text: str | None) -> datetime:
    if not text:
        return datetime.now(timezone.utc)
    try:
        at = parse_time(text)
    except (TypeError, ValueError):
        at = None
    if at is None:
        raise click.BadParameter(f"{text!r}: expected an ISO-8601 time such as "
                                 "2026-12-05T22:30:00Z", param_hint="--now")
    return at
