"""The local Zendesk's Flask app: errors, the gate every API request passes (auth, rate limit,
injected latency and faults), request counting, the resource views and the control plane."""
from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any

from flask import Flask, Response, g, jsonify, request

from tiergate.localdesk.zendesk import admin, comments, directory, incremental, jobs, tickets, webhooks
from tiergate.localdesk.zendesk.api import API, json_body
from tiergate.localdesk.zendesk.errors import ApiError
from tiergate.localdesk.zendesk.store import State


def create_app(state: State) -> Flask:
    app = Flask("tiergate-zendesk-local")
    app.json.sort_keys = False   # type: ignore[attr-defined]
    api = API

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        body: dict[str, Any] = {"error": exc.error, "description": exc.description}
        if exc.details is not None:
            body["details"] = exc.details
        body.update(exc.extra)
        resp = jsonify(body)
        resp.status_code = exc.status
        if exc.status == 401:
            resp.headers["WWW-Authenticate"] = 'Basic realm="Web Password"'
        return resp

    @app.errorhandler(404)
    def _no_route(exc: Any) -> Response:
        resp = jsonify({"error": "InvalidEndpoint", "description": "Not found"})
        resp.status_code = 404
        return resp

    @app.errorhandler(405)
    def _bad_method(exc: Any) -> Response:
        resp = jsonify({"error": "InvalidEndpoint", "description": "Method not allowed"})
        resp.status_code = 405
        return resp

    @app.before_request
    def _gate() -> Response | None:
        g.rate_headers = {}
        if not request.path.startswith(api):
            return None
        auth = request.authorization
        if not auth or auth.username != f"{state.email}/token" or auth.password != state.token:
            raise ApiError(401, "Couldn't authenticate you", "")
        with state.lock:
            knobs = dict(state.knobs)
            limit = knobs["rate_limit_per_minute"]
            if limit:
                now = time.monotonic()
                while state.window and state.window[0] <= now - 60:
                    state.window.popleft()
                if len(state.window) >= limit:
                    retry = max(1, math.ceil(state.window[0] + 60 - now))
                    resp = jsonify({"error": "APIRateLimitExceeded", "description": "Rate limit exceeded"})
                    resp.status_code = 429
                    resp.headers.update({"Retry-After": str(retry), "X-Rate-Limit": str(limit),
                                         "X-Rate-Limit-Remaining": "0", "ratelimit-remaining": "0",
                                         "ratelimit-reset": str(retry)})
                    return resp
                state.window.append(now)
                remaining = str(limit - len(state.window))
                g.rate_headers = {"X-Rate-Limit": str(limit), "X-Rate-Limit-Remaining": remaining,
                                  "ratelimit-limit": str(limit), "ratelimit-remaining": remaining,
                                  "ratelimit-reset": str(60)}
            fail = False
            if knobs["fail_next"] > 0:
                state.knobs["fail_next"] -= 1
                fail = True
            elif knobs["fail_rate"] and state._rng.random() < knobs["fail_rate"]:
                fail = True
        if knobs["latency_ms"]:
            time.sleep(knobs["latency_ms"] / 1000.0)
        if fail and int(knobs["fail_status"]) == 429:
            resp = jsonify({"error": "APIRateLimitExceeded", "description": "Injected fault (fail_next/fail_rate)"})
            resp.status_code = 429
            resp.headers.update({"Retry-After": "1", "X-Rate-Limit-Remaining": "0"})
            return resp
        if fail:
            raise ApiError(int(knobs["fail_status"]), "ServiceUnavailable", "Injected fault (fail_next/fail_rate)")
        return None

    @app.after_request
    def _count(resp: Response) -> Response:
        rule = request.url_rule.rule if request.url_rule else request.path
        with state.lock:
            state.stats[(request.method, rule, resp.status_code)] += 1
        resp.headers.update(getattr(g, "rate_headers", {}) or {})
        return resp

    for resource in (tickets, jobs, comments, incremental, directory, webhooks, admin):
        resource.register(app, state)

    # -- control plane (tests, demo, benchmarks) -------------------------------------------------
    @app.route("/_control/knobs", methods=["GET", "POST"])
    def control_knobs():
        return jsonify(state.set_knobs(**json_body()) if request.method == "POST" else dict(state.knobs))

    @app.post("/_control/deliver/<int:ticket_id>")
    def control_deliver(ticket_id: int):
        return jsonify({"queued": state.redeliver(ticket_id, json_body().get("event", "created"))})

    @app.get("/_control/stats")
    def control_stats():
        return jsonify(stats_of(state))

    @app.post("/_control/reset")
    def control_reset():
        state.reset()
        return jsonify({"ok": True})

    return app


def stats_of(state: State) -> dict[str, Any]:
    """Request counters: ``{"total": n, "requests": {"PUT /api/v2/tickets/<int:ticket_id> 200": 1},
    "by_endpoint": {"PUT /api/v2/tickets/<int:ticket_id>": {"200": 1}}, "by_status": {"200": 1}}``
    (route rules without ``.json``; ``requests`` keys split as ``method, rule, status``)."""
    with state.lock:
        requests_: dict[str, int] = {}
        by_endpoint: dict[str, dict[str, int]] = {}
        by_status: Counter = Counter()
        for (method, rule, status), n in state.stats.items():
            requests_[f"{method} {rule} {status}"] = n
            endpoint = by_endpoint.setdefault(f"{method} {rule}", {})
            endpoint[str(status)] = endpoint.get(str(status), 0) + n
            by_status[str(status)] += n
        return {"total": sum(state.stats.values()), "requests": requests_, "by_endpoint": by_endpoint,
                "by_status": dict(by_status)}
