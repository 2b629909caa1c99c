"""The local Zammad's Flask app: errors, the gate every API request passes (auth, latency, rate
limit, injected failures and conflicts), request logging and counting, and the control plane."""
from __future__ import annotations

import time
from collections import Counter, deque
from typing import Any

from flask import Flask, g, request

from tiergate.localdesk.zammad import admin, objects, tickets
from tiergate.localdesk.zammad.account import ApiError
from tiergate.localdesk.zammad.api import err, ok
from tiergate.localdesk.zammad.desk import Desk
from tiergate.localdesk.zammad.store import Knobs


def stats_of(stats: Counter) -> dict[str, Any]:
    by_endpoint: dict[str, dict[str, int]] = {}
    by_status: Counter = Counter()
    out: dict[str, Any] = {"writes": 0, "writes_without_suppress": 0, "rate_limited": 0, "failed": 0,
                           "conflicts": 0}
    for key, n in list(stats.items()):
        if isinstance(key, tuple):
            _, method, rule, status = key
            slot = by_endpoint.setdefault(f"{method} {rule}", {})
            slot[str(status)] = slot.get(str(status), 0) + n
            by_status[str(status)] += n
        else:
            out[key] = n
    requests_ = {f"{m} {r} {st}": n for (_, m, r, st), n in
                 ((k, v) for k, v in list(stats.items()) if isinstance(k, tuple))}
    return {"total": sum(by_status.values()), "by_endpoint": by_endpoint, "by_status": dict(by_status),
            "requests": requests_, **out}



def create_app(desk: Desk, knobs: Knobs, stats: Counter, log: deque, window: deque) -> Flask:
    app = Flask("tiergate-zammad-local")
    state = desk.state

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return err(exc.status, exc.message)

    @app.errorhandler(404)
    def _nf(exc):
        return err(404, f"No route matches [{request.method}] {request.path}")

    @app.errorhandler(405)
    def _na(exc):
        return err(404, f"No route matches [{request.method}] {request.path}")

    @app.before_request
    def _before():
        if request.path.startswith("/_control"):
            return None
        write = request.method in ("POST", "PUT", "DELETE", "PATCH")
        suppressed = request.headers.get("X-Zammad-Suppress-Notifications", "").lower() == "true"
        route = request.url_rule.rule if request.url_rule else request.path
        g.entry = {"method": request.method, "path": request.full_path.rstrip("?"), "route": route,
                   "write": write, "suppress_notifications": suppressed, "status": None}
        log.append(g.entry)
        if write:
            stats["writes"] += 1
            if not suppressed:
                stats["writes_without_suppress"] += 1
        if knobs.latency_ms:
            time.sleep(knobs.latency_ms / 1000.0)
        auth = request.headers.get("Authorization", "")
        token = auth[len("Token token="):] if auth.startswith("Token token=") else (
            auth[len("Bearer "):] if auth.startswith("Bearer ") else None)
        if token != desk.token:
            return err(401, "authentication failed")
        with state.lock:
            if knobs.rate_limit_per_minute:
                now = time.monotonic()
                while window and now - window[0] > 60:
                    window.popleft()
                if len(window) >= knobs.rate_limit_per_minute:
                    retry = max(1, int(60 - (now - window[0])) + 1)
                    stats["rate_limited"] += 1
                    return err(429, "Too Many Requests", {"Retry-After": str(retry)})
                window.append(now)
            if knobs.fail_next > 0:
                knobs.fail_next -= 1
                stats["failed"] += 1
                return err(knobs.fail_status, "injected failure")
            if write and knobs.conflict_next > 0:
                knobs.conflict_next -= 1
                stats["conflicts"] += 1
                return err(409, "injected conflict: the object was changed meanwhile")
        return None

    @app.after_request
    def _after(resp):
        entry = g.get("entry")
        if entry is not None:
            entry["status"] = resp.status_code
            stats[("req", entry["method"], entry["route"], resp.status_code)] += 1
        return resp

    # -- control -------------------------------------------------------------------------------
    @app.post("/_control/knobs")
    def _knobs():
        data = request.get_json(silent=True) or {}
        for key, value in data.items():
            if not hasattr(knobs, key):
                return err(422, f"{key}: unknown knob")
            setattr(knobs, key, value)
        return ok(vars(knobs))

    @app.post("/_control/reset")
    def _reset():
        with state.lock:
            state.clear()
            desk.clock_last.clear()
            desk.seed()
            knobs.__dict__.update(vars(Knobs()))
        stats.clear()
        log.clear()
        return ok({"ok": True})

    @app.get("/_control/stats")
    def _stats():
        return ok(stats_of(stats))


    tickets.register(app, desk)
    admin.register(app, desk)
    objects.register(app, desk)
    return app
