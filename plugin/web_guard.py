"""Receiver-wide guards: ``GET /metrics`` behind a bearer token, and every server error in the
JSON error shape.

``/metrics`` answers only to ``Authorization: Bearer <token>`` where the token is
``TIERGATE_METRICS_TOKEN`` or ``TIERGATE_ADMIN_TOKEN`` (compared in constant time): 401 without
or with a wrong token, 403 ``metrics_disabled`` when neither is configured. Any answer of 500 or
more that is not JSON (a view or extension that wrote plain text, such as ``/metrics`` with Redis
down) is rewritten to ``{"error", "message"}`` with its status and headers kept.
"""
from __future__ import annotations

import hmac
import json

from flask import Flask, Response, request

METRICS_PATH = "/metrics"


def _json_error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps({"error": error, "message": message}), status=status,
                        mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def init_app(app: Flask, settings) -> None:
    tokens = tuple(t.encode() for t in (settings.metrics_token, settings.admin_token) if t)

    @app.before_request
    def _metrics_token():
        if request.path != METRICS_PATH:
            return None
        if not tokens:
            return _json_error(403, "metrics_disabled", "set TIERGATE_METRICS_TOKEN (or "
                               "TIERGATE_ADMIN_TOKEN) to read metrics with a bearer token")
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        candidate = value.strip().encode("utf-8", "replace")
        if scheme.lower() != "bearer" or not any(hmac.compare_digest(candidate, t) for t in tokens):
            return _json_error(401, "unauthorized", "GET /metrics needs Authorization: Bearer "
                               "<metrics token>", {"WWW-Authenticate": 'Bearer realm="tiergate"'})
        return None

    @app.after_request
    def _errors_are_json(response: Response) -> Response:
        if response.status_code < 500 or response.mimetype == "application/json":
            return response
        try:
            detail = response.get_data(as_text=True).strip().lstrip("# ")[:200]
        except Exception:  # noqa: BLE001 - a streamed body: say nothing of it
            detail = ""
        error = "unavailable" if response.status_code == 503 else "internal"
        fixed = _json_error(response.status_code, error, detail or "the receiver cannot answer "
                            "this request now; retry later")
        for key in ("Retry-After", "WWW-Authenticate"):
            if key in response.headers:
                fixed.headers[key] = response.headers[key]
        return fixed
