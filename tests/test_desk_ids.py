"""The manifest's desk ids against a live desk: ``tiergate check --against-desk`` names each id the
desk does not know, ``tiergate install`` maps tiers and teams to groups by name and writes the ids
into the site file (``--create-groups``, ``--dry-run``), on the local Zendesk and Zammad servers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fixtures_zammad import zammad_server  # noqa: F401
from tiergate.localdesk.zendesk.account import DEFAULT_GROUPS
from tiergate.plugin import install as inst
from tiergate.plugin.core.manifest import load_manifest, read_document
from tiergate.plugin.core.manifest_ids import GROUP, USER, match_groups, referenced_ids, site_with_ids
from tiergate.plugin.manifest_cli import check

REPO = Path(__file__).resolve().parent.parent
SHIFT = 5000
SECRET = "desk-ids-test-secret"


@pytest.fixture
def receiver(redis_url, redis_conn):
    """The real tiergate receiver (plugin.web) on a real socket, with SECRET."""
    from tiergate.plugin.embedded import serve_wsgi
    from tiergate.plugin.web import create_app

    server = serve_wsgi(create_app({"redis_url": redis_url, "webhook_secret": SECRET, "helpdesk": "zendesk"}))
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def zendesk_env(handle) -> dict[str, str]:
    o = handle.settings_overrides()
    return {"ZENDESK_SUBDOMAIN": o["zendesk_subdomain"], "ZENDESK_EMAIL": o["zendesk_email"],
            "ZENDESK_API_TOKEN": o["zendesk_api_token"], "ZENPY_FORCE_SCHEME": "http",
            "ZENPY_FORCE_NETLOC": o["zendesk_netloc"], "TIERGATE_WEBHOOK_SECRET": "",
            "TIERGATE_MANIFEST": ""}


def shift_groups(handle, shift: int = SHIFT, skip: tuple[int, ...] = ()) -> dict[int, int]:
    """Give the desk's groups other ids (same names; agents follow their group); old -> new id.
    Groups in ``skip`` are removed instead."""
    state = handle.state
    mapping: dict[int, int] = {}
    with state.lock:
        for gid, name in DEFAULT_GROUPS:
            state.groups.pop(gid)
            if gid not in skip:
                state.add_group(name, id=gid + shift)
                mapping[gid] = gid + shift
        for user in state.users.values():
            if user.get("default_group_id") is not None:
                user["default_group_id"] = mapping.get(user["default_group_id"])
    return mapping


def site_copy(tmp_path: Path) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text((REPO / "manifest.json").read_text(encoding="utf-8"), encoding="utf-8")
    return path


def run(cmd, args, env):
    return CliRunner().invoke(cmd, args, env=env, catch_exceptions=False)


@pytest.fixture(autouse=True)
def _own_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


# -- pure: which ids, which names ------------------------------------------------------------
def test_referenced_ids_name_each_path():
    doc = read_document(REPO / "manifest.json")
    refs = {(r.kind, r.path): r.id for r in referenced_ids(doc)}
    assert refs[(GROUP, "tiers.tier_3.group_id")] == 103
    assert refs[(USER, "teams.billing.owner_id")] == 210
    assert refs[(USER, "helpdesk.bot_user_id")] == 299
    assert refs[(USER, "oncall.routes.engineering_oncall.owner_id")] == 203
    i = next(i for i, t in enumerate(doc["triggers"]) if t["name"] == "priority_raised")
    assert refs[(GROUP, f"triggers[{i}].conditions.all[4].value")] == 104


def test_site_with_ids_keeps_extends_and_writes_only_changed_ids():
    site = json.loads((REPO / "manifest.json").read_text())
    effective = read_document(site)
    desk = [(gid + SHIFT if gid != 110 else gid, name) for gid, name in DEFAULT_GROUPS]
    match = match_groups(effective, desk)
    assert not match.missing and not match.ambiguous
    new, changes = site_with_ids(site, effective, match.ids, {"score_field": "77"})
    assert new["extends"] == "tiergate:default" and new["version"] == site["version"]
    assert new["tiers"]["tier_3"] == {"group_id": 103 + SHIFT, "owner_id": 203}
    assert "group_id" not in new["teams"]["billing"] or new["teams"]["billing"]["group_id"] == 110
    assert new["helpdesk"]["score_field"] == "77" and new["helpdesk"]["agents"] == site["helpdesk"]["agents"]
    # the trigger condition naming management's old id follows it, by name
    patch = next(t for t in new["triggers"] if t["name"] == "priority_raised")
    assert {"field": "group_id", "operator": "is_not", "value": 104 + SHIFT} in patch["conditions"]["all"]
    assert len(changes) == 11 + 1 + 1
    m = load_manifest(new)
    assert m.tiers["management"].group_id == 104 + SHIFT and m.helpdesk.score_field == "77"
    assert m.triggers[0].name == load_manifest(site).triggers[0].name      # defaults kept in order


def test_match_groups_by_label_or_key_case_insensitive():
    doc = read_document(REPO / "manifest.json")
    desk = [(1, "tier 1 FRONTLINE"), (2, "Team_Lead"), (3, "security"), (4, "Security")]
    match = match_groups(doc, desk)
    assert match.ids[("tiers", "tier_1")] == 1 and match.ids[("teams", "team_lead")] == 2
    assert [(o, ids) for o, _, ids in match.ambiguous] == [(("teams", "security"), [3, 4])]
    assert (("tiers", "tier_2"), "Tier 2 Specialists") in match.missing


# -- check --against-desk ----------------------------------------------------------------------
def test_check_against_desk_names_each_unknown_id_and_a_dry_run_maps_without_writing(zendesk_server, tmp_path):
    env = zendesk_env(zendesk_server)
    site = site_copy(tmp_path)
    ok = run(check, [str(site), "--against-desk"], env)
    assert ok.exit_code == 0, ok.output
    assert ok.output.splitlines()[-1].startswith("zendesk: every id the manifest references exists")
    shift_groups(zendesk_server)
    res = run(check, [str(site), "--against-desk"], env)
    assert res.exit_code == 1, res.output
    for gid, _ in DEFAULT_GROUPS:
        assert any(line.endswith(f".group_id {gid}: no such group on the desk") for line in res.output.splitlines()), gid
    assert "tiers.tier_3.group_id 103: no such group on the desk" in res.output
    assert "conditions.all[4].value 104: no such group on the desk" in res.output
    assert "no such user" not in res.output and "13 unknown id(s)" in res.output
    assert env["ZENDESK_API_TOKEN"] not in res.output

    mapped = run(inst.install, ["--receiver-url", "https://tg.example", "--record", str(tmp_path / "r.json"),
                                "--manifest", str(site), "--dry-run"], env)
    assert mapped.exit_code == 0, mapped.output
    assert f"group mapping: tiers.tier_3 -> {103 + SHIFT}" in mapped.output
    assert "not written" in mapped.output and json.loads(site.read_text())["tiers"]["tier_3"]["group_id"] == 103
    assert run(check, [str(site), "--against-desk"], env).exit_code == 1


def test_check_against_desk_without_credentials_is_a_clear_error(tmp_path):
    res = run(check, [str(site_copy(tmp_path)), "--against-desk"],
              {"ZENDESK_SUBDOMAIN": "", "ZENDESK_EMAIL": "", "ZENDESK_API_TOKEN": "", "TIERGATE_MANIFEST": ""})
    assert res.exit_code == 1
    assert "cannot connect to zendesk" in res.output and "ZENDESK_API_TOKEN" in res.output
    assert "Traceback" not in res.output


def test_check_against_zammad_names_unknown_groups_and_users(zammad_server, tmp_path):  # noqa: F811
    env = {"ZAMMAD_URL": zammad_server.url, "ZAMMAD_TOKEN": zammad_server.token, "TIERGATE_MANIFEST": ""}
    site = site_copy(tmp_path)
    ok = run(check, [str(site), "--against-desk", "--helpdesk", "zammad"], env)
    assert ok.exit_code == 0, ok.output
    with zammad_server.state.lock:
        zammad_server.state.groups.pop(113)
        zammad_server.state.users.pop(213)
    res = run(check, [str(site), "--against-desk", "--helpdesk", "zammad"], env)
    assert res.exit_code == 1, res.output
    assert "teams.legal.group_id 113: no such group on the desk" in res.output
    assert "teams.legal.owner_id 213: no such user on the desk" in res.output
    assert zammad_server.token not in res.output


# -- install: map by name, create, write the site file -------------------------------------------
def test_install_refuses_unmatched_names_then_creates_them_when_asked(zendesk_server, receiver, tmp_path):
    env = zendesk_env(zendesk_server)
    site = site_copy(tmp_path)
    before = site.read_text()
    mapping = shift_groups(zendesk_server, skip=(113, 115))
    args = ["--receiver-url", receiver, "--record", str(tmp_path / "r.json"), "--manifest", str(site),
            "--secret", SECRET]
    res = CliRunner().invoke(inst.install, args, env=env)
    assert res.exit_code == 1, res.output
    assert "teams.legal: no desk group named 'Legal'" in res.output
    assert "teams.review: no desk group named 'Review Queue'" in res.output
    assert "tier_1" not in res.output and "Traceback" not in res.output
    assert site.read_text() == before and not zendesk_server.state.collections["webhooks"]

    res = CliRunner().invoke(inst.install, [*args, "--create-groups"], env=env)
    assert res.exit_code == 0 and "arrived and verified" in res.output, res.output
    assert "(created)" in res.output and SECRET not in res.output
    names = {g["name"]: g["id"] for g in zendesk_server.state.groups.values()}
    assert {"Legal", "Review Queue"} <= set(names)
    written = json.loads(site.read_text())
    assert written["extends"] == "tiergate:default"
    assert written["teams"]["legal"]["group_id"] == names["Legal"]
    assert written["tiers"]["tier_1"]["group_id"] == mapping[101]
    fields = {f["title"]: f["id"] for f in zendesk_server.state.collections["ticket_fields"].values()}
    assert written["helpdesk"]["score_field"] == str(fields["tiergate attention score"])
    assert written["helpdesk"]["risk_field"] == str(fields["tiergate risk tags"])
    record = json.loads((tmp_path / "r.json").read_text())
    assert sorted(record["created"]["groups"]) == sorted([names["Legal"], names["Review Queue"]])
    assert run(check, [str(site), "--against-desk"], env).exit_code == 0


def test_check_against_desk_looks_up_ticket_fields_and_schedules(zendesk_server, tmp_path):
    env = zendesk_env(zendesk_server)
    site = site_copy(tmp_path)
    doc = json.loads(site.read_text())
    doc["helpdesk"].update(score_field="424242", users_affected_field="424243")
    doc["calendars"]["support"]["schedule_id"] = 434343
    site.write_text(json.dumps(doc))
    res = run(check, [str(site), "--against-desk"], env)
    assert res.exit_code == 1, res.output
    assert "helpdesk.score_field 424242: no such ticket field on the desk" in res.output
    assert "helpdesk.users_affected_field 424243: no such ticket field on the desk" in res.output
    assert "calendars.support.schedule_id 434343: no such schedule on the desk" in res.output
    assert "3 unknown id(s)" in res.output

    import requests

    o = zendesk_server.settings_overrides()
    auth = (f"{o['zendesk_email']}/token", o["zendesk_api_token"])
    made = {}
    for path, key, body in (("ticket_fields", "ticket_field", {"type": "integer", "title": "score"}),
                            ("ticket_fields", "ticket_field", {"type": "integer", "title": "affected"}),
                            ("business_hours/schedules", "schedule", {"name": "Support", "time_zone": "Berlin"})):
        r = requests.post(f"{zendesk_server.url}/api/v2/{path}", json={key: body}, auth=auth, timeout=10)
        assert r.status_code == 201, r.text
        made[body.get("title") or body["name"]] = r.json()[key]["id"]
    doc["helpdesk"].update(score_field=str(made["score"]), users_affected_field=str(made["affected"]))
    doc["calendars"]["support"]["schedule_id"] = made["Support"]
    site.write_text(json.dumps(doc))
    res = run(check, [str(site), "--against-desk"], env)
    assert res.exit_code == 0, res.output
    assert "2 ticket field ids" in res.output and "1 schedule ids" in res.output


def test_zammad_install_maps_by_name_and_creates_a_missing_group(zammad_server, tmp_path):  # noqa: F811
    env = {"ZAMMAD_URL": zammad_server.url, "ZAMMAD_TOKEN": zammad_server.token, "TIERGATE_WEBHOOK_SECRET": "",
           "TIERGATE_MANIFEST": ""}
    with zammad_server.state.lock:
        zammad_server.state.groups.pop(116)                       # Customer Success
        zammad_server.state.groups[901] = {**zammad_server.state.groups.pop(103), "id": 901}
    site = site_copy(tmp_path)
    args = ["--helpdesk", "zammad", "--receiver-url", "https://tg.example", "--record", str(tmp_path / "z.json"),
            "--manifest", str(site), "--secret", SECRET]
    res = CliRunner().invoke(inst.install, args, env=env)
    assert res.exit_code == 1 and "teams.customer_success: no desk group named 'Customer Success'" in res.output
    res = run(inst.install, [*args, "--create-groups"], env)
    assert res.exit_code == 0, res.output
    created = next(g["id"] for g in zammad_server.state.groups.values() if g["name"] == "Customer Success")
    written = json.loads(site.read_text())
    assert written["tiers"]["tier_3"]["group_id"] == 901
    assert written["teams"]["customer_success"]["group_id"] == created
    assert "score_field" not in written["helpdesk"]                  # install makes no Zammad fields
    assert run(check, [str(site), "--against-desk", "--helpdesk", "zammad"], env).exit_code == 0
