"""What the desks' webhook verifiers share: case-insensitive header look-up, and payload parsing
where marshmallow errors become one ``PayloadError`` naming the JSON path of the first bad field."""
from __future__ import annotations

import json
from typing import Any, Mapping

from marshmallow import Schema, ValidationError, fields
from werkzeug.datastructures import Headers

from tiergate.plugin.core.errors import PayloadError


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, whatever the case of its name (plain dicts in tests, WSGI in the app)."""
    if isinstance(headers, Headers):    # werkzeug's (request.headers): already case-insensitive
        return headers.get(name)
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def json_object(body: bytes) -> dict:
    """Raw body -> the JSON object it holds; anything else is a PayloadError on ``body``."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError("body", f"not valid JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise PayloadError("body", "must be a JSON object")
    return payload


def first_error(messages: Any, path: str = "") -> tuple[str, str]:
    """marshmallow's nested ``{"detail": {"id": ["msg"]}}`` -> ("detail.id", "msg")."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                return first_error(value, path)
            sub = f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else str(key))
            return first_error(value, sub)
    if isinstance(messages, list) and messages:
        return first_error(messages[0], path) if isinstance(messages[0], (dict, list)) else (
            path or "body", str(messages[0]))
    return path or "body", str(messages)


def load(schema: Schema, payload: dict) -> dict:
    """``schema.load(payload)`` or ``PayloadError(field, message)``."""
    try:
        return schema.load(payload)
    except ValidationError as exc:
        field, message = first_error(exc.messages)
        raise PayloadError(field, message) from None


class TicketId(fields.Field):
    """A positive id given as an integer or a string of ASCII digits 0-9 (desks send both).
    Other Unicode digits (``"١٢"``, ``"１２"``) are refused: ``int()`` would read them, but no desk
    sends them, and two spellings of one id must not make two dedupe keys."""

    default_error_messages = {"invalid": "must be a positive integer or a string of ASCII digits 0-9"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            number = int(value.strip())
        else:
            raise self.make_error("invalid")
        if number <= 0:
            raise self.make_error("invalid")
        return number
