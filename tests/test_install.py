"""``tiergate install / uninstall / import-sla`` against the local Zendesk (and Zammad) servers."""
from __future__ import annotations

import copy
import json
import threading

import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

from fixtures_zammad import zammad_server  # noqa: F401
from tiergate.plugin import install as inst
from tiergate.connectors.outcome_events import trigger_body
from tiergate.plugin.install_outcomes import ZENDESK_OUTCOME_TRIGGERS

SECRET = "install-test-secret"


def _desk_state(handle) -> dict:
    s = handle.state
    with s.lock:
        return copy.deepcopy({k: getattr(s, k) for k in
                              ("users", "groups", "organizations", "tickets", "comments", "audits", "collections")})


def _env(handle) -> dict[str, str]:
    o = handle.settings_overrides()
    return {"ZENDESK_SUBDOMAIN": o["zendesk_subdomain"], "ZENDESK_EMAIL": o["zendesk_email"],
            "ZENDESK_API_TOKEN": o["zendesk_api_token"], "ZENPY_FORCE_SCHEME": "http",
            "ZENPY_FORCE_NETLOC": o["zendesk_netloc"], "TIERGATE_WEBHOOK_SECRET": ""}


@pytest.fixture
def receiver(redis_url, redis_conn):
    """The real tiergate receiver (plugin.web) on a real socket, with SECRET."""
    from tiergate.plugin.web import create_app

    app = create_app({"redis_url": redis_url, "webhook_secret": SECRET, "helpdesk": "zendesk",
                      "HELPDESKS": ("zendesk", "zammad")})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _own_directory(tmp_path, monkeypatch):
    """Each test in its own directory: install writes ids into ./manifest.json when one is there."""
    monkeypatch.chdir(tmp_path)


def _run(cmd, args, env):
    return CliRunner().invoke(cmd, args, env=env, catch_exceptions=False)


def test_install_uninstall_round_trip_leaves_desk_as_it_was(zendesk_server, receiver, tmp_path, redis_conn):
    record = tmp_path / "rec.json"
    before = _desk_state(zendesk_server)
    res = _run(inst.install, ["--receiver-url", receiver, "--record", str(record), "--secret", SECRET], _env(zendesk_server))
    assert res.exit_code == 0, res.output
    assert "arrived and verified" in res.output
    assert SECRET not in res.output and "the one given" in res.output
    cols = zendesk_server.state.collections
    assert [h["name"] for h in cols["webhooks"].values()] == ["tiergate"]
    hook = next(iter(cols["webhooks"].values()))
    assert hook["endpoint"] == receiver + "/webhooks/zendesk"
    assert sorted(t["title"] for t in cols["triggers"].values()) == [
        "tiergate: customer comment", "tiergate: group changed", "tiergate: handoff comment",
        "tiergate: satisfaction rated", "tiergate: ticket created", "tiergate: ticket reopened",
        "tiergate: ticket solved"]
    outcome_kinds = {title: kind for title, kind, _ in ZENDESK_OUTCOME_TRIGGERS}
    for t in cols["triggers"].values():
        body = trigger_body(outcome_kinds[t["title"]]) if t["title"] in outcome_kinds else inst.trigger_body(t["title"])
        assert t["actions"] == [{"field": "notification_webhook", "value": [hook["id"], body]}]
    assert '"tiergate_event":"satisfaction"' in trigger_body("satisfaction")
    assert sorted(f["title"] for f in cols["ticket_fields"].values()) == [
        "tiergate attention score", "tiergate risk tags"]
    saved = json.loads(record.read_text())
    assert saved["helpdesk"] == "zendesk" and len(saved["created"]["triggers"]) == len(inst.ZENDESK_TRIGGERS) + 3
    assert redis_conn.llen("rq:queue:tiergate") == 0      # the test delivery queued no job

    res = _run(inst.uninstall, ["--record", str(record)], _env(zendesk_server))
    assert res.exit_code == 0, res.output
    assert _desk_state(zendesk_server) == before
    assert not record.exists()


def test_reinstall_is_idempotent_and_uninstall_still_removes_everything(zendesk_server, receiver, tmp_path):
    record = tmp_path / "rec.json"
    before = _desk_state(zendesk_server)
    env = _env(zendesk_server)
    assert _run(inst.install, ["--receiver-url", receiver, "--record", str(record), "--secret", SECRET], env).exit_code == 0
    first = _desk_state(zendesk_server)["collections"]
    res = _run(inst.install, ["--receiver-url", receiver, "--record", str(record), "--secret", SECRET], env)
    assert res.exit_code == 0, res.output
    assert "created 0" in res.output and "created 1" not in res.output
    again = _desk_state(zendesk_server)["collections"]
    for kind in ("webhooks", "triggers", "ticket_fields"):
        assert sorted(map(str, again[kind])) == sorted(map(str, first[kind]))
    assert _run(inst.uninstall, ["--record", str(record)], env).exit_code == 0
    assert _desk_state(zendesk_server) == before


def test_install_updates_an_existing_webhook_and_keeps_it_on_uninstall(zendesk_server, receiver, tmp_path):
    import requests

    env = _env(zendesk_server)
    o = zendesk_server.settings_overrides()
    auth = (f"{o['zendesk_email']}/token", o["zendesk_api_token"])
    r = requests.post(f"{zendesk_server.url}/api/v2/webhooks", auth=auth, json={"webhook": {
        "name": "tiergate", "endpoint": "https://old.example/hook", "status": "inactive",
        "signing_secret": {"algorithm": "sha256", "secret": SECRET}}})
    hook_id = r.json()["webhook"]["id"]
    record = tmp_path / "rec.json"
    res = _run(inst.install, ["--receiver-url", receiver, "--record", str(record)], env)
    assert res.exit_code == 0, res.output
    hook = zendesk_server.state.collections["webhooks"][hook_id]
    assert (hook["endpoint"], hook["status"]) == (receiver + "/webhooks/zendesk", "active")
    assert "webhooks" not in json.loads(record.read_text())["created"]
    assert f"export TIERGATE_WEBHOOK_SECRET='{SECRET}'" in res.output      # read back, not given
    assert SECRET not in record.read_text()
    assert _run(inst.uninstall, ["--record", str(record)], env).exit_code == 0
    assert list(zendesk_server.state.collections["webhooks"]) == [hook_id]
    assert zendesk_server.state.collections["triggers"] == {}


def test_install_reports_a_refused_signature(zendesk_server, receiver, tmp_path):
    res = CliRunner().invoke(inst.install, ["--receiver-url", receiver, "--record", str(tmp_path / "r.json"),
                                            "--secret", "not-the-receivers-secret"], env=_env(zendesk_server))
    assert res.exit_code != 0
    assert "signature was refused (401)" in res.output


def test_dry_run_sends_nothing(zendesk_server, tmp_path):
    before = zendesk_server.stats()["total"]
    record = tmp_path / "rec.json"
    res = _run(inst.install, ["--receiver-url", "https://tiergate.example.com", "--record", str(record), "--dry-run"],
               _env(zendesk_server))
    assert res.exit_code == 0, res.output
    # its one look-up: the desk's groups, for the mapping it shows
    assert zendesk_server.stats()["total"] == before + 1 == before + zendesk_server.count("GET", "groups")
    assert "group mapping: tiers.tier_3 -> 103" in res.output
    assert not record.exists()
    lines = res.output.splitlines()
    assert any(l.startswith("POST /api/v2/webhooks {") for l in lines)
    assert sum(l.startswith("POST /api/v2/triggers {") for l in lines) == len(inst.ZENDESK_TRIGGERS) + 3
    assert sum(l.startswith("POST /api/v2/ticket_fields {") for l in lines) == 2
    assert any(l.startswith("POST /api/v2/webhooks/test") for l in lines)
    body = json.loads(next(l for l in lines if l.startswith("POST /api/v2/webhooks {")).split(" ", 2)[2])
    assert body["webhook"]["endpoint"] == "https://tiergate.example.com/webhooks/zendesk"


def test_bad_url_is_a_usage_error(zendesk_server, tmp_path):
    res = CliRunner().invoke(inst.install, ["--receiver-url", "tiergate.example.com"], env=_env(zendesk_server))
    assert res.exit_code == 2 and "--receiver-url" in res.output


def test_uninstall_without_record_is_a_usage_error(tmp_path, zendesk_server):
    res = CliRunner().invoke(inst.uninstall, ["--record", str(tmp_path / "none.json")], env=_env(zendesk_server))
    assert res.exit_code == 2 and "no install record" in res.output


# -- Zammad ----------------------------------------------------------------------------------------
def test_zammad_install_round_trip_and_dry_run(zammad_server, tmp_path):  # noqa: F811
    env = {"ZAMMAD_URL": zammad_server.url, "ZAMMAD_TOKEN": zammad_server.token, "TIERGATE_WEBHOOK_SECRET": ""}
    record = tmp_path / "z.json"
    before = zammad_server.snapshot()
    n = zammad_server.stats()["total"]
    res = _run(inst.install, ["--helpdesk", "zammad", "--receiver-url", "https://tg.example", "--record", str(record),
                              "--dry-run"], env)
    assert res.exit_code == 0 and zammad_server.stats()["total"] == n + 1     # the groups look-up only
    assert "group mapping: teams.team_lead -> 114" in res.output
    assert sum(l.startswith("POST /api/v1/triggers {") for l in res.output.splitlines()) == 5
    res = _run(inst.install, ["--helpdesk", "zammad", "--receiver-url", "https://tg.example", "--record", str(record),
                              "--secret", SECRET], env)
    assert res.exit_code == 0, res.output
    hooks = list(zammad_server.state.webhooks.values())
    assert [(h["endpoint"], h["signature_token"]) for h in hooks] == [("https://tg.example/webhooks/zammad", SECRET)]
    names = sorted(t["name"] for t in zammad_server.state.triggers.values())
    assert names == ["tiergate: customer article", "tiergate: group changed", "tiergate: ticket closed",
                     "tiergate: ticket created", "tiergate: ticket reopened"]
    res = _run(inst.install, ["--helpdesk", "zammad", "--receiver-url", "https://tg.example", "--record", str(record)], env)
    assert res.exit_code == 0 and "created 0" in res.output and len(zammad_server.state.triggers) == 5
    assert _run(inst.uninstall, ["--record", str(record)], env).exit_code == 0
    after = zammad_server.snapshot()
    assert after["webhooks"] == before["webhooks"] == {} and after["triggers"] == {}
    assert after == before
