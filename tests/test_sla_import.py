"""``tiergate import-sla`` against the local Zendesk server's SLA policies and schedules: every
filter condition that maps becomes the policy's match, every other one is named and the command
exits 2 while still printing what it imported."""
from __future__ import annotations

import json

import requests
from click.testing import CliRunner

from tiergate.plugin import sla_import
from tiergate.plugin.core.model import Organization, Ticket
from tiergate.plugin.core.sla import select_policy
from tiergate.plugin.core.sla_schema import load_sections
from tiergate.plugin.sla_filters import filter_matches


def _env(handle) -> dict[str, str]:
    o = handle.settings_overrides()
    return {"ZENDESK_SUBDOMAIN": o["zendesk_subdomain"], "ZENDESK_EMAIL": o["zendesk_email"],
            "ZENDESK_API_TOKEN": o["zendesk_api_token"], "ZENPY_FORCE_SCHEME": "http",
            "ZENPY_FORCE_NETLOC": o["zendesk_netloc"], "TIERGATE_WEBHOOK_SECRET": ""}


def _post(handle, path: str, key: str, obj: dict) -> dict:
    o = handle.settings_overrides()
    auth = (f"{o['zendesk_email']}/token", o["zendesk_api_token"])
    res = requests.post(f"{handle.url}/api/v2/{path}", auth=auth, json={key: obj})
    res.raise_for_status()
    return res.json()[key]


def _seed_sla(handle):
    _post(handle, "business_hours/schedules", "schedule", {
        "name": "EU Support", "time_zone": "Berlin",
        "intervals": [{"start_time": 1980 + d * 1440, "end_time": 2460 + d * 1440} for d in range(5)]})
    _post(handle, "slas/policies", "sla_policy", {
        "title": "Incidents", "position": 1,
        "filter": {"all": [{"field": "type", "operator": "is", "value": "incident"}], "any": []},
        "policy_metrics": [
            {"priority": "urgent", "metric": "first_reply_time", "target": 10, "business_hours": False},
            {"priority": "urgent", "metric": "requester_wait_time", "target": 180, "business_hours": True},
            {"priority": "normal", "metric": "first_reply_time", "target": 120, "business_hours": True}]})
    _post(handle, "slas/policies", "sla_policy", {
        "title": "Incidents", "position": 2, "filter": {"all": [], "any": []},
        "policy_metrics": [{"priority": "low", "metric": "next_reply_time", "target": 480,
                            "business_hours": True}]})


def _invoke(args, env):
    kw = {"mix_stderr": False} if "mix_stderr" in CliRunner.__init__.__code__.co_varnames else {}
    return CliRunner(**kw).invoke(sla_import.import_sla, args, env=env)


def _doc(out: str) -> dict:
    return json.loads(out[out.index("{"):])


def test_import_sla_prints_manifest_sections_that_validate(zendesk_server):
    _seed_sla(zendesk_server)
    res = _invoke([], _env(zendesk_server))
    assert res.exit_code == 0, res.output
    doc = _doc(res.stdout)
    calendars, sla, errors = load_sections(doc)
    assert errors == []
    assert doc["calendars"]["eu_support"]["time_zone"] == "Europe/Berlin"
    assert [p["name"] for p in doc["sla"]["policies"]] == ["incidents_normal", "incidents_urgent",
                                                          "incidents_low"]
    urgent = next(p for p in sla.policies if p.match.priorities == ("urgent",))
    assert urgent.match.types == ("incident",)          # the type filter is imported, not dropped
    assert {(m.metric, m.target_minutes, m.business_hours) for m in urgent.metrics} == {
        ("first_reply_time", 10.0, False), ("requester_wait_time", 180.0, True)}
    assert sla.default_calendar == "eu_support"
    assert "skipped" not in res.stderr


POLICY = {
    "title": "Gold billing", "position": 1,
    "filter": {
        "all": [{"field": "priority", "operator": "greater_than", "value": "normal"},
                {"field": "organization_id", "operator": "is", "value": "501"},
                {"field": "current_tags", "operator": "includes", "value": "gold platinum"},
                {"field": "current_tags", "operator": "not_includes", "value": "spam"},
                {"field": "via_id", "operator": "is", "value": 4},
                {"field": "custom_fields_360001", "operator": "is", "value": "enterprise"},
                {"field": "brand_id", "operator": "is", "value": 77},
                {"field": "custom_fields_360002", "operator": "is_not", "value": "trial"}],
        "any": [{"field": "group_id", "operator": "is", "value": 110},
                {"field": "type", "operator": "is", "value": "problem"},
                {"field": "requester_id", "operator": "is", "value": 9}]},
    "policy_metrics": [
        {"priority": "high", "metric": "first_reply_time", "target": 60, "business_hours": False},
        {"priority": "urgent", "metric": "first_reply_time", "target": 15, "business_hours": False},
        {"priority": "normal", "metric": "first_reply_time", "target": 240, "business_hours": False},
        {"priority": "critical", "metric": "first_reply_time", "target": 5, "business_hours": False}]}


def test_import_sla_imports_every_mappable_filter_and_names_the_rest(zendesk_server, tmp_path):
    created = _post(zendesk_server, "slas/policies", "sla_policy", POLICY)
    listed = requests.get(f"{zendesk_server.url}/api/v2/slas/policies",
                          auth=(f"{zendesk_server.settings_overrides()['zendesk_email']}/token",
                                zendesk_server.settings_overrides()["zendesk_api_token"])).json()
    assert listed["sla_policies"][0]["id"] == created["id"]
    assert set(listed["sla_policies"][0]["filter"]) == {"all", "any"}

    out = tmp_path / "sla.json"
    res = _invoke(["--output", str(out)], _env(zendesk_server))
    assert res.exit_code == sla_import.EXIT_SKIPPED, res.output
    skipped = [line for line in res.stderr.splitlines() if line.startswith("skipped: ")]
    assert len(skipped) == 4, res.stderr
    where = "skipped: policy 'Gold billing' (slas/policies[0]): "
    assert any(line.startswith(where + "filter.all: brand_id is 77: tiergate's tickets carry no brand")
               for line in skipped)
    assert any(line.startswith(where + "filter.all: custom_fields_360002 is_not 'trial'") for line in skipped)
    assert any(line.startswith(where + "filter.any: requester_id is 9") for line in skipped)
    assert any(line.startswith(where + "metric first_reply_time for priority 'critical'") for line in skipped)

    doc = json.loads(out.read_text())           # what could be imported is still written
    calendars, sla, errors = load_sections(doc)
    assert errors == []
    names = [p.name for p in sla.policies]
    # one policy per "any" branch (group 110 / type problem) and per admitted priority; normal is
    # below "greater than normal" and not imported
    assert names == ["gold_billing_1_high", "gold_billing_1_urgent", "gold_billing_2_high",
                     "gold_billing_2_urgent"]
    by_group = sla.policies[0].match
    assert (by_group.priorities, by_group.groups, by_group.organizations, by_group.channels) == (
        ("high",), (110,), (501,), ("email",))
    assert (by_group.tags_any, by_group.tags_none, by_group.fields) == (
        ("gold", "platinum"), ("spam",), (("360001", ("enterprise",)),))
    assert sla.policies[2].match.types == ("problem",) and sla.policies[2].match.groups == ()

    def ticket(**kw):
        base = dict(id=1, subject="s", description="d", status="open", priority="high", type="incident",
                    group_id=110, assignee_id=None, requester_id=9, organization_id=501,
                    tags=("gold",), channel="email", created_at=None, updated_at=None,
                    custom_fields={"360001": "enterprise"},
                    organization=Organization(id=501, name="Gold Co"))
        base.update(kw)
        return Ticket(**base)

    assert select_policy(sla, ticket()).name == "gold_billing_1_high"
    assert select_policy(sla, ticket(priority="urgent", group_id=5, type="problem")).name == \
        "gold_billing_2_urgent"
    for other in (dict(group_id=5), dict(organization_id=502), dict(tags=("silver",)),
                  dict(tags=("gold", "spam")), dict(channel="web"), dict(custom_fields={}),
                  dict(priority="normal")):
        assert select_policy(sla, ticket(**other)) is None, other


def test_filter_matches_merges_and_contradictions():
    matches, skipped = filter_matches({"all": [{"field": "priority", "operator": "is", "value": "low"},
                                               {"field": "priority", "operator": "is", "value": "high"}]})
    assert matches == [] and skipped == []
    matches, _ = filter_matches({"all": [{"field": "group_id", "operator": "is_not", "value": "3"}],
                                 "any": [{"field": "group_id", "operator": "is", "value": 1},
                                         {"field": "group_id", "operator": "is", "value": 2}]})
    assert matches == [{"not_groups": (3,), "groups": (1, 2)}]
    matches, skipped = filter_matches({"all": [
        {"field": "current_tags", "operator": "includes", "value": "a b"},
        {"field": "current_tags", "operator": "includes", "value": "c"}]})
    assert matches == [{"tags_any": ("a", "b")}] and "second 'tags include'" in skipped[0].reason


def test_policy_that_matches_nothing_is_named_and_not_imported():
    notes: list[str] = []
    doc = sla_import.sla_from_zendesk([{
        "title": "Never", "filter": {"all": [{"field": "priority", "operator": "less_than", "value": "low"}]},
        "policy_metrics": [{"priority": "low", "metric": "first_reply_time", "target": 5}]}], [], {},
        notes.append)
    assert doc["sla"]["policies"] == []
    assert notes == ["policy 'Never' (slas/policies[0]): not imported: as far as its filter can be "
                     "expressed, it matches no ticket"]


def test_sla_from_zendesk_unknown_zone_and_no_schedule_warn():
    warnings: list[str] = []
    doc = sla_import.sla_from_zendesk(
        [{"title": "P", "policy_metrics": [{"priority": "high", "metric": "first_reply_time", "target": 30,
                                            "business_hours": True}]}],
        [], {}, warnings.append)
    _, sla, errors = load_sections(doc)
    assert errors == [] and sla.policies[0].metrics[0].business_hours is False
    assert any("no schedule" in w for w in warnings)
    doc = sla_import.sla_from_zendesk([], [{"id": 1, "name": "X", "time_zone": "Nowhere/Land", "intervals": []}],
                                      {1: [{"name": "Xmas", "start_date": "2026-12-24", "end_date": "2026-12-26"}]},
                                      warnings.append)
    assert doc["calendars"]["x"]["time_zone"] == "UTC"
    assert doc["calendars"]["x"]["holidays"]["dates"] == ["2026-12-24", "2026-12-25", "2026-12-26"]
    assert load_sections(doc)[2] == []


def test_policy_whose_any_conditions_all_fail_is_named_and_not_imported():
    notes: list[str] = []
    doc = sla_import.sla_from_zendesk([{
        "title": "Brands", "filter": {"all": [], "any": [{"field": "brand_id", "operator": "is", "value": 1},
                                                          {"field": "brand_id", "operator": "is", "value": 2}]},
        "policy_metrics": [{"priority": "low", "metric": "first_reply_time", "target": 5}]}], [], {},
        notes.append)
    assert doc["sla"]["policies"] == []
    assert [n.split(": ", 2)[1] for n in notes] == ["filter.any", "filter.any", "not imported"]
    assert notes[-1].endswith("none of its filter.any conditions can be expressed")


def test_match_keys_validate_with_the_field_named():
    doc = {"calendars": {}, "sla": {"policies": [{"name": "p", "match": {
        "groups": ["tier two"], "fields": {"360001": []}, "colour": ["red"]},
        "metrics": [{"metric": "first_reply_time", "target_minutes": 30}]}]}}
    _, _, errors = load_sections(doc)
    paths = {p for p, _ in errors}
    assert {"sla.policies[0].match.groups[0]", "sla.policies[0].match.fields.360001.value",
            "sla.policies[0].match.colour"} <= paths, errors
    doc["sla"]["policies"][0]["match"] = {"types": ["Incident", "none"], "fields": {"k": [True]}}
    _, sla, errors = load_sections(doc)
    assert errors == [] and sla.policies[0].match.types == ("incident", "none")
    assert sla.policies[0].match.fields == (("k", ("true",)),)
    ticket = Ticket(id=1, subject="s", description="d", status="open", priority=None, type=None,
                    group_id=None, assignee_id=None, requester_id=None, organization_id=None, tags=(),
                    channel="web", created_at=None, updated_at=None, custom_fields={"k": True})
    assert select_policy(sla, ticket).name == "p"
    assert select_policy(sla, Ticket(**{**ticket.__dict__, "custom_fields": {"k": False}})) is None


def test_unknown_metrics_and_bad_targets_are_named_not_a_traceback():
    notes: list[str] = []
    doc = sla_import.sla_from_zendesk([{"title": "M", "policy_metrics": [
        {"priority": "high", "metric": "first_reply_time", "target": 30},
        {"priority": "high", "metric": "happiness_time", "target": 30},
        {"priority": "low", "metric": "next_reply_time"},
        {"priority": "low", "metric": "next_reply_time", "target": "soon"}]}], [], {}, notes.append)
    assert [p["name"] for p in doc["sla"]["policies"]] == ["m_high"]
    assert load_sections(doc)[2] == []
    assert len(notes) == 3 and "'happiness_time' for priority high: the manifest has no such metric" in notes[0]
    assert "target None is not a positive number" in notes[1] and "target 'soon'" in notes[2]


def test_malformed_filters_are_named():
    notes: list[str] = []
    doc = sla_import.sla_from_zendesk([{"title": "Odd", "filter": {"all": ["priority is high"], "any": 5},
                                        "policy_metrics": [{"priority": "high", "metric": "first_reply_time",
                                                            "target": 30}]}], [], {}, notes.append)
    assert doc["sla"]["policies"] == []
    assert "filter.all: ? ? 'priority is high': not a condition object" in notes[0]
    assert notes[-1].endswith("none of its filter.any conditions can be expressed")
