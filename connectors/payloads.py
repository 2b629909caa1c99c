"""Webhook payload parsing shared by the desks' verifiers: marshmallow errors -> one
``PayloadError`` naming the JSON path of the first bad field."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields

from tiergate.plugin.core.errors import PayloadError


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
    """A positive id given as an integer or a string of digits (desks send both)."""

    default_error_messages = {"invalid": "must be a positive integer or a string of digits"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and value.strip().isdigit():
            number = int(value.strip())
        else:
            raise self.make_error("invalid")
        if number <= 0:
            raise self.make_error("invalid")
        return number
