"""Shared pieces of the local Zammad's views: JSON answers, Zammad-shaped errors, the JSON body
and the acting user."""
from __future__ import annotations

import json
from typing import Any, Mapping

from flask import Response, request

from tiergate.localdesk.zammad.account import BOT_ID, ApiError


def ok(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")

def err(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    resp = ok({"error": message, "error_human": message}, status)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp

def json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(422, "body: expected a JSON object")
    return data

def me() -> int:
    return BOT_ID
