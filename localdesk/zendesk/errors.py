"""The local Zendesk's API errors, answered as ``{"error": ..., "description": ...}``."""
from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Answered as ``{"error": error, "description": description}`` with ``status``."""

    def __init__(self, status: int, error: str, description: str = "", details: Any = None,
                 extra: dict[str, Any] | None = None):
        super().__init__(description or error)
        self.status, self.error, self.description, self.details = status, error, description, details
        self.extra = dict(extra or {})        # more top-level keys (TooManyValues: max_count)


def not_found(kind: str = "record") -> ApiError:
    return ApiError(404, "RecordNotFound", f"Not found ({kind})")


def conflict() -> ApiError:
    return ApiError(409, "UpdateConflict", "Safe Update prevented the update due to outdated ticket data. "
                                           "Please fetch the latest ticket data and try again.")
