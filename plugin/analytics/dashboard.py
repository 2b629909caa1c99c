"""The admin dashboard: ``GET /dashboard`` (HTML, server-side SVG charts) and
``GET /dashboard/data.json``, registered on a Flask app with ``init_app(app)``.

Access needs the admin token (``app.config["TIERGATE_ADMIN_TOKEN"]``, else ``Settings.admin_token``):
either ``Authorization: Bearer <token>`` on every request, or once through the login form
(``POST /dashboard/login``), which sets an HttpOnly, SameSite=Strict cookie signed with the token
and valid for 8 hours. Tokens are compared with ``hmac.compare_digest``. No token configured: the
dashboard answers 404 — it is never open. The decision log is ``app.config["TIERGATE_DB_URL"]``
(else ``Settings.db_url``); group names come from ``app.config["TIERGATE_TIERS"]`` ({group id:
name}) or the manifest.
"""
from __future__ import annotations

import hashlib
import hmac
import threading
import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, redirect, render_template, request

from tiergate.plugin.analytics import charts
from tiergate.plugin.analytics.log import DecisionLog
from tiergate.plugin.analytics.log_rows import manifest_tiers
from tiergate.plugin.analytics.metrics import parse_month
from tiergate.plugin.analytics.report import DEFINITIONS, LABELS, fmt_minutes, fmt_value, report_dict
from tiergate.runtime.config import Settings

COOKIE = "tg_dashboard"
SESSION_SECONDS = 8 * 3600
EXT = "tiergate_dashboard"

bp = Blueprint("tiergate_dashboard", __name__, url_prefix="/dashboard",
               template_folder="templates", static_folder="static", static_url_path="/static")


def init_app(app: Flask, settings: Any = None) -> None:
    """Register the dashboard. ``settings`` (a ``Settings``) is the fallback for the token and
    the database URL when ``app.config`` does not set them; default ``Settings.from_env()``."""
    if settings is None:
        settings = app.config.get("TIERGATE_SETTINGS")
    if settings is None:
        settings = Settings.from_env()
    app.extensions[EXT] = {"settings": settings, "logs": {}, "lock": threading.Lock()}
    app.register_blueprint(bp)


# -- configuration and auth ----------------------------------------------------------------------
def _ext() -> dict[str, Any]:
    return current_app.extensions[EXT]


def _token() -> str | None:
    return current_app.config.get("TIERGATE_ADMIN_TOKEN") or getattr(_ext()["settings"], "admin_token", None)


def _log():
    url = current_app.config.get("TIERGATE_DB_URL") or getattr(_ext()["settings"], "db_url", None)
    ext = _ext()
    with ext["lock"]:
        log = ext["logs"].get(url)
        if log is None:
            tiers = current_app.config.get("TIERGATE_TIERS") or manifest_tiers(ext["settings"])
            log = ext["logs"][url] = DecisionLog(url, tier_of_group=tiers)
    return log


def _session_value(token: str, expires: int) -> str:
    mac = hmac.new(token.encode(), f"tiergate-dashboard:{expires}".encode(), hashlib.sha256).hexdigest()
    return f"{expires}.{mac}"


def _authorized(token: str) -> bool:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return hmac.compare_digest(header[7:].strip().encode(), token.encode())
    cookie = request.cookies.get(COOKIE, "")
    expires, _, _mac = cookie.partition(".")
    if not expires.isdigit() or int(expires) < time.time():
        return False
    return hmac.compare_digest(cookie.encode(), _session_value(token, int(expires)).encode())


def _secure(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'")
    return resp


def _login_page(status: int, error: str | None = None) -> Response:
    resp = Response(render_template("dashboard_login.html", error=error), status=status,
                    mimetype="text/html")
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="tiergate dashboard"'
    return _secure(resp)


def _guard(json_api: bool = False) -> Response | None:
    token = _token()
    if not token:
        resp = (jsonify(error="dashboard disabled: no admin token configured") if json_api
                else Response("Not Found: the dashboard is disabled (no TIERGATE_ADMIN_TOKEN).\n",
                              mimetype="text/plain"))
        resp.status_code = 404
        return _secure(resp)
    if _authorized(token):
        return None
    if json_api:
        resp = jsonify(error="admin token required: Authorization: Bearer <TIERGATE_ADMIN_TOKEN>")
        resp.status_code = 401
        resp.headers["WWW-Authenticate"] = 'Bearer realm="tiergate dashboard"'
        return _secure(resp)
    return _login_page(401)


def _period_arg():
    month = request.args.get("month") or None
    if month is None:
        return None, None
    try:
        return parse_month(month), None
    except ValueError as exc:
        return None, str(exc)


# -- routes ---------------------------------------------------------------------------------------
@bp.get("")
@bp.get("/")
def page():
    denied = _guard()
    if denied is not None:
        return denied
    period, error = _period_arg()
    if error:
        return _secure(Response(f"Bad Request: {error}\n", status=400, mimetype="text/plain"))
    report = report_dict(_log(), period)
    return _secure(Response(render_template("dashboard.html", **view(report)), mimetype="text/html"))


@bp.get("/data.json")
def data():
    denied = _guard(json_api=True)
    if denied is not None:
        return denied
    period, error = _period_arg()
    if error:
        resp = jsonify(error=error)
        resp.status_code = 400
        return _secure(resp)
    return _secure(jsonify(report_dict(_log(), period)))


@bp.post("/login")
def login():
    token = _token()
    if not token:
        return _guard()
    given = (request.form.get("token") or "").strip()
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        return _login_page(401, "That token is not the admin token.")
    expires = int(time.time()) + SESSION_SECONDS
    resp = redirect(request.script_root + "/dashboard", code=303)
    resp.set_cookie(COOKIE, _session_value(token, expires), max_age=SESSION_SECONDS, httponly=True,
                    samesite="Strict", secure=request.is_secure, path="/dashboard")
    return _secure(resp)


@bp.post("/logout")
def logout():
    resp = redirect(request.script_root + "/dashboard", code=303)
    resp.delete_cookie(COOKIE, path="/dashboard")
    return _secure(resp)


# -- the page's view model ----------------------------------------------------------------------
def _pct(v: float | None) -> str:
    return fmt_value("escalation_rate", v)


def view(report: dict[str, Any]) -> dict[str, Any]:
    """Template variables: KPI tiles, the four charts as SVG markup, tables."""
    m = report["metrics"]
    rate = m["escalation_rate"]
    series = report["series"]
    esc_series = series["escalation_rate"]
    rate_chart = charts.column_chart(
        "chart-escalation-rate", "Escalation rate over time",
        [s["bucket"][5:] if s["unit"] == "day" else s["bucket"] for s in esc_series],
        [s["rate"] for s in esc_series], fmt=lambda v: f"{v * 100:.0f}%", max_value=0.25,
        tooltips=[f"{s['bucket']}: {_pct(s['rate'])} ({s['escalated']} of {s['tickets']} tickets)"
                  for s in esc_series], goal=0.10, goal_label="goal < 10%")
    hist = series["time_to_escalation"]
    most = max((h["count"] for h in hist), default=0)
    tte_chart = charts.column_chart(
        "chart-time-to-escalation", "Time to escalation",
        [h["bucket"] for h in hist] if most else [],
        [h["count"] for h in hist], fmt=lambda v: f"{v:.0f}", color=charts.BAR_ALT,
        max_value=max(2, -(-most // 2) * 2),   # even, so the axis ticks are whole numbers
        tooltips=[f"{h['bucket']}: {h['count']} escalations" for h in hist], empty="no escalations in this period")
    triggers_chart = charts.bar_list(
        "chart-top-triggers", "Top triggers",
        [(t["trigger"], t["tickets"], f"{t['tickets']} fired · {t['escalated']} escalated")
         for t in series["top_triggers"]], empty="no trigger fired in this period")
    rca = m["rca_frequency"]["value"]
    rca_chart = charts.bar_list(
        "chart-root-causes", "Top root causes",
        [(k.replace("_", " "), v, f"{v}") for k, v in rca.items()], color=charts.BAR_ALT,
        empty="no reviewed escalation yet")
    tiles = [
        ("escalation_rate", _pct(rate["value"]), f"{rate['escalated']} of {rate['n']} tickets · goal < 10%",
         "bad" if rate["value"] is not None and rate["value"] >= 0.10 else "good"),
        ("time_to_escalation_minutes", fmt_minutes(m["time_to_escalation_minutes"]["value"]),
         f"median of {m['time_to_escalation_minutes']['n']}", ""),
        ("post_escalation_resolution_minutes", fmt_minutes(m["post_escalation_resolution_minutes"]["value"]),
         f"median of {m['post_escalation_resolution_minutes']['n']}", ""),
        ("mttr_minutes", fmt_minutes(m["mttr_minutes"]["value"]), f"mean of {m['mttr_minutes']['n']} resolved", ""),
        ("csat_escalated", _pct(m["csat_escalated"]["value"]),
         f"other tickets {_pct(m['csat_other']['value'])} ({m['csat_escalated']['n']} / {m['csat_other']['n']} rated)", ""),
        ("first_contact_resolution", _pct(m["first_contact_resolution"]["value"]),
         f"of {m['first_contact_resolution']['n']} resolved", ""),
        ("reopen_rate", _pct(m["reopen_rate"]["value"]), f"of {m['reopen_rate']['n']} ever resolved", ""),
        ("handoffs_per_ticket", fmt_value("handoffs_per_ticket", m["handoffs_per_ticket"]["value"]),
         f"{m['handoffs_per_ticket']['handoffs']} handoffs", ""),
    ]
    by_trigger = [(k, b["escalation_rate"]["n"], fmt_minutes(b["time_to_escalation_minutes"]["value"]),
                   fmt_minutes(b["post_escalation_resolution_minutes"]["value"]), _pct(b["csat_escalated"]["value"]))
                  for k, b in report["breakdowns"].get("trigger", {}).items()]
    names = report.get("group_names", {})
    by_team = [(f"{k} · {names[k]}" if names.get(k) else k, b["escalation_rate"]["n"], _pct(b["escalation_rate"]["value"]),
                fmt_minutes(b["mttr_minutes"]["value"]), _pct(b["first_contact_resolution"]["value"]))
               for k, b in report["breakdowns"].get("team", {}).items()]
    return {"report": report, "tiles": [(LABELS[k], v, sub, cls, DEFINITIONS[k]) for k, v, sub, cls in tiles],
            "rate_chart": rate_chart, "tte_chart": tte_chart, "triggers_chart": triggers_chart,
            "rca_chart": rca_chart, "by_trigger": by_trigger, "by_team": by_team,
            "definitions": [(LABELS[k], DEFINITIONS[k]) for k in DEFINITIONS]}
