"""The dashboard's access rules and data, through a minimal Flask app calling ``init_app``."""
from __future__ import annotations

import time

import pytest
from flask import Flask
from test_analytics_history import TIERS, db_url, history  # noqa: F401

from tiergate.plugin.analytics import dashboard
from tiergate.runtime.config import Settings

TOKEN = "dash-token-123x"


def make_app(db: str, token: str | None = TOKEN, *, settings: Settings | None = None) -> Flask:
    app = Flask("dashboard-test")
    if token is not None:
        app.config["TIERGATE_ADMIN_TOKEN"] = token
    app.config["TIERGATE_DB_URL"] = db
    app.config["TIERGATE_TIERS"] = TIERS
    dashboard.init_app(app, settings or Settings(admin_token=None, db_url="sqlite:///unused.sqlite"))
    return app


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(history):
    return make_app(history.db_url).test_client()


def test_without_token_401_with_token_200(client):
    r = client.get("/dashboard")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert b'name="token"' in r.data and b"<svg" not in r.data
    for wrong in ("", "Bearer", "Bearer nope", f"Basic {TOKEN}", f"Bearer {TOKEN}x"):
        assert client.get("/dashboard", headers={"Authorization": wrong}).status_code == 401, wrong
    r = client.get("/dashboard", headers=bearer())
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert r.data.count(b"<svg") == 4
    assert r.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    assert client.get("/dashboard/", headers=bearer()).status_code == 200


def test_data_json(client):
    r = client.get("/dashboard/data.json")
    assert r.status_code == 401 and r.is_json and "Bearer" in r.json["error"]
    r = client.get("/dashboard/data.json?month=2024-05", headers=bearer())
    assert r.status_code == 200
    data = r.json
    # the hand-computed May numbers (see test_analytics_metrics)
    assert (data["period"], data["tickets"]) == ("2024-05", 6)
    assert data["metrics"]["escalation_rate"]["value"] == 0.5
    assert data["metrics"]["time_to_escalation_minutes"]["value"] == 60
    assert data["group_names"] == {"100": "tier_0", "101": "tier_1", "110": "finance"}
    assert [s["escalated"] for s in data["series"]["escalation_rate"]] == [1, 0, 1, 1, 0, 0]
    everything = client.get("/dashboard/data.json", headers=bearer()).json
    assert (everything["period"], everything["tickets"]) == ("all time", 7)


@pytest.mark.parametrize("path", ["/dashboard?month=2024-13", "/dashboard/data.json?month=May"])
def test_bad_month_is_400(client, path):
    r = client.get(path, headers=bearer())
    assert r.status_code == 400
    assert b"month" in r.data and b"Traceback" not in r.data


def test_no_token_configured_means_disabled(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'x.sqlite'}", token=None)
    c = app.test_client()
    for path in ("/dashboard", "/dashboard/data.json"):
        assert c.get(path).status_code == 404
        assert c.get(path, headers={"Authorization": "Bearer "}).status_code == 404
        assert c.get(path, headers=bearer("None")).status_code == 404
    assert c.post("/dashboard/login", data={"token": ""}).status_code == 404


def test_token_from_settings_when_config_has_none(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'x.sqlite'}", token=None,
                   settings=Settings(admin_token="from-settings", db_url="sqlite:///unused.sqlite"))
    c = app.test_client()
    assert c.get("/dashboard").status_code == 401
    assert c.get("/dashboard", headers=bearer("from-settings")).status_code == 200


def test_login_form_sets_an_httponly_cookie(client):
    r = client.post("/dashboard/login", data={"token": "wrong"})
    assert r.status_code == 401 and b"not the admin token" in r.data
    assert "Set-Cookie" not in r.headers
    r = client.post("/dashboard/login", data={"token": TOKEN})
    assert r.status_code == 303 and r.headers["Location"].endswith("/dashboard")
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/dashboard" in cookie
    assert TOKEN not in cookie
    assert client.get("/dashboard").status_code == 200
    assert client.get("/dashboard/data.json").status_code == 200
    client.post("/dashboard/logout")
    assert client.get("/dashboard").status_code == 401


def test_forged_or_expired_cookie_is_refused(client):
    value = dashboard._session_value(TOKEN, int(time.time()) + 600)
    client.set_cookie(dashboard.COOKIE, value, path="/dashboard")
    assert client.get("/dashboard").status_code == 200
    expired = dashboard._session_value(TOKEN, int(time.time()) - 1)
    client.set_cookie(dashboard.COOKIE, expired, path="/dashboard")
    assert client.get("/dashboard").status_code == 401
    forged = value[:-1] + ("A" if value[-1] != "A" else "B")   # one character of the signature changed
    client.set_cookie(dashboard.COOKIE, forged, path="/dashboard")
    assert client.get("/dashboard").status_code == 401
    other = dashboard._session_value("another-token", int(time.time()) + 600)
    client.set_cookie(dashboard.COOKIE, other, path="/dashboard")
    assert client.get("/dashboard").status_code == 401


def test_empty_log_renders(tmp_path):
    c = make_app(f"sqlite:///{tmp_path / 'empty.sqlite'}").test_client()
    r = c.get("/dashboard", headers=bearer())
    assert r.status_code == 200
    assert b"no data in this period" in r.data and b"No escalations sampled yet" in r.data


def test_labels_are_escaped(history):
    from test_analytics_history import decision, enr, snap

    history.record(decision(2, 30, ["<script>alert(1)</script>"]), snap(2, 30), enr(),
                   helpdesk="zendesk", delivery_id="xss")
    c = make_app(history.db_url).test_client()
    body = c.get("/dashboard", headers=bearer()).data
    assert b"<script>" not in body and b"&lt;script&gt;" in body
