"""Manifest loading: the shipped manifest, every error path with its JSON path, CLI, schema."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tiergate.plugin.core.errors import ManifestError
from tiergate.plugin.core.manifest import default_manifest_path, load_manifest, read_document
from tiergate.plugin.core.manifest_jsonschema import json_schema
from tiergate.plugin.core.manifest_model import Manifest
from tiergate.plugin.core.manifest_schema import ACTION_PARAMS
from tiergate.plugin.manifest_cli import check, manifest as manifest_group, schema

from test_manifest_base import base_doc

REPO = Path(__file__).resolve().parent.parent


def errors_of(doc) -> list[tuple[str, str]]:
    with pytest.raises(ManifestError) as info:
        load_manifest(doc)
    return info.value.errors


def paths_of(doc) -> set[str]:
    return {p for p, _ in errors_of(doc)}


# -- the shipped manifest -----------------------------------------------------------------------
def test_repo_manifest_passes_and_is_embedded():
    m = load_manifest(REPO / "manifest.json")
    assert isinstance(m, Manifest)
    assert default_manifest_path().resolve() == (REPO / "manifest.json").resolve()
    assert load_manifest(default_manifest_path()).version == m.version


def test_repo_manifest_exercises_every_construct():
    m = load_manifest(REPO / "manifest.json")
    used_actions = {a.type for t in m.triggers for a in t.actions}
    assert used_actions == set(ACTION_PARAMS)
    ops = {c.operator for t in m.triggers for c in t.conditions.all + t.conditions.any}
    for op in ("is", "is_not", "in", "not_in", "less_than", "greater_than",
               "less_than_or_equal", "greater_than_or_equal", "includes", "not_includes",
               "includes_all", "within", "changed", "present", "above_authority",
               "within_authority", "not_contains"):
        assert op in ops, op
    fields = {c.field for t in m.triggers for c in t.conditions.all + t.conditions.any}
    for f in ("status", "priority", "type", "channel", "group_id", "assignee_id", "tags",
              "tier", "team", "age", "since_customer_update", "since_agent_update",
              "since_public_update", "time_in_tier", "reopen_count", "handoffs",
              "customer_contacts", "risk_tags", "sentiment", "sentiment_label",
              "attention_score", "sentiment_shift", "model_score", "complaint",
              "organization.segment", "organization.vip", "organization.account_value",
              "organization.renewal", "users_affected", "sla.max_pct_elapsed", "sla.any_breached",
              "clock.business_hours", "amount.refund", "satisfaction"):
        assert f in fields, f
    assert any(f.startswith("custom.") for f in fields)
    assert any(f.startswith("sla.") and f.count(".") == 2 for f in fields)
    units = {c.params.get("unit") for t in m.triggers for c in t.conditions.all}
    assert {"business_hours", "hours"} <= units
    assert {r.kind for r in m.oncall.routes.values()} == {"webhook", "email"}
    assert set(m.tiers) == {"tier_0", "tier_1", "tier_2", "tier_3", "management"}
    assert [t.order for t in m.tier_chain()] == sorted(t.order for t in m.tiers.values())
    assert m.teams["billing"].group_id == 110 and m.teams["security"].group_id == 111


def test_manifest_is_frozen_and_versioned():
    doc = base_doc()
    m = load_manifest(doc)
    with pytest.raises(Exception):
        m.version = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        m.tiers["x"] = None  # type: ignore[index]
    same = load_manifest(copy.deepcopy(doc))
    assert same.version == m.version and len(m.version) == 12
    doc["triggers"][0]["description"] = "changed"
    assert load_manifest(doc).version != m.version
    assert m.nlp_model is None and "outage" in m.keywords


def test_minimal_manifest_defaults():
    m = load_manifest({"tiers": {"tier_1": {"order": 1, "group_id": 1, "owner_id": 2}}})
    assert m.triggers == () and m.helpdesk.rate_limit_per_minute == 400
    assert m.review.sample_rate == 0.05


# -- errors with JSON paths ---------------------------------------------------------------------
def _mut(fn):
    doc = base_doc()
    fn(doc)
    return doc


ERROR_CASES = [
    # (id, mutation, expected path, a word the message contains)
    ("unknown top key", lambda d: d.update(colour=1), "colour", "allowed"),
    ("unknown tier key", lambda d: d["tiers"]["tier_1"].update(x=1), "tiers.tier_1.x", "allowed"),
    ("wrong type", lambda d: d["tiers"]["tier_1"].update(order="one"), "tiers.tier_1.order",
     "integer"),
    ("missing required", lambda d: d["tiers"]["tier_1"].pop("owner_id"),
     "tiers.tier_1.owner_id", "required"),
    ("bad tier name", lambda d: d["tiers"].update({"Tier X": {"order": 9, "group_id": 9,
                                                              "owner_id": 9}}),
     "tiers.Tier X", "lower-case"),
    ("unknown field", lambda d: d["triggers"][0]["conditions"]["all"].append(
        {"field": "colour", "operator": "is", "value": 1}),
     "triggers[0].conditions.all[1].field", "allowed"),
    ("unknown operator", lambda d: d["triggers"][0]["conditions"]["all"].append(
        {"field": "priority", "operator": "bigger", "value": "high"}),
     "triggers[0].conditions.all[1].operator", "greater_than"),
    ("operator not for type", lambda d: d["triggers"][0]["conditions"]["all"].append(
        {"field": "tags", "operator": "greater_than", "value": 1}),
     "triggers[0].conditions.all[1].operator", "includes"),
    ("bad enum value", lambda d: d["triggers"][0]["conditions"]["all"].append(
        {"field": "priority", "operator": "is", "value": "p1"}),
     "triggers[0].conditions.all[1].value", "urgent"),
    ("number expected", lambda d: d["triggers"][0]["conditions"]["all"].append(
        {"field": "attention_score", "operator": "greater_than", "value": "high"}),
     "triggers[0].conditions.all[1].value", "number"),
    ("missing value", lambda d: d["triggers"][0]["conditions"]["all"].append(
        {"field": "attention_score", "operator": "greater_than"}),
     "triggers[0].conditions.all[1].value", "required"),
    ("bad unit", lambda d: d["triggers"][0]["conditions"]["all"].append(
        {"field": "age", "operator": "greater_than", "value": 1, "unit": "fortnights"}),
     "triggers[0].conditions.all[1].unit", "business_hours"),
    ("param not for field", lambda d: d["triggers"][0]["conditions"]["all"].append(
        {"field": "priority", "operator": "is", "value": "low", "unit": "hours"}),
     "triggers[0].conditions.all[1].unit", "does not apply"),
    ("unknown tier value", lambda d: d["triggers"][0]["conditions"]["all"].append(
        {"field": "tier", "operator": "is", "value": "tier_9"}),
     "triggers[0].conditions.all[1].value", "tier_1"),
    ("unknown calendar param", lambda d: d["triggers"][0]["conditions"]["all"].append(
        {"field": "clock.business_hours", "operator": "is", "value": True, "calendar": "mars"}),
     "triggers[0].conditions.all[1].calendar", "support"),
    ("unknown sla metric", lambda d: d["triggers"][0]["conditions"]["all"].append(
        {"field": "sla.speed.pct_elapsed", "operator": "greater_than", "value": 1}),
     "triggers[0].conditions.all[1].field", "allowed"),
    ("contradiction", lambda d: d["triggers"][0]["conditions"]["all"].extend(
        [{"field": "priority", "operator": "is", "value": "urgent"},
         {"field": "priority", "operator": "is", "value": "low"}]),
     "triggers[0].conditions.all[2]", "never fire"),
    ("empty range", lambda d: d["triggers"][0]["conditions"]["all"].extend(
        [{"field": "attention_score", "operator": "greater_than", "value": 80},
         {"field": "attention_score", "operator": "less_than", "value": 20}]),
     "triggers[0].conditions.all[2]", "range"),
    ("rank range", lambda d: d["triggers"][0]["conditions"]["all"].extend(
        [{"field": "priority", "operator": "greater_than", "value": "high"},
         {"field": "priority", "operator": "is", "value": "low"}]),
     "triggers[0].conditions.all[2]", "never fire"),
    ("tag both ways", lambda d: d["triggers"][0]["conditions"]["all"].extend(
        [{"field": "tags", "operator": "includes_all", "value": ["a"]},
         {"field": "tags", "operator": "not_includes", "value": ["a"]}]),
     "triggers[0].conditions.all[2]", "never fire"),
    ("unknown action", lambda d: d["triggers"][0]["actions"].append({"action": "explode"}),
     "triggers[0].actions[1].action", "escalate"),
    ("action param missing", lambda d: d["triggers"][0]["actions"].append({"action": "note"}),
     "triggers[0].actions[1].template", "required"),
    ("action param foreign", lambda d: d["triggers"][0]["actions"].append(
        {"action": "escalate", "to": "up", "tags": ["x"]}),
     "triggers[0].actions[1].tags", "does not apply"),
    ("unknown template", lambda d: d["triggers"][0]["actions"].append(
        {"action": "note", "template": "nope"}), "triggers[0].actions[1].template", "allowed"),
    ("unknown target", lambda d: d["triggers"][0]["actions"].append(
        {"action": "escalate", "to": "tier_9"}), "triggers[0].actions[1].to", "finance"),
    ("unknown route", lambda d: d["triggers"][0]["actions"].append(
        {"action": "notify", "route": "nobody"}), "triggers[0].actions[1].route", "pager"),
    ("no actions", lambda d: d["triggers"][0].update(actions=[]), "triggers[0].actions",
     "shorter"),
    ("noop escalation", lambda d: d["triggers"][0].update(
        conditions={"all": [{"field": "tier", "operator": "is", "value": "tier_2"}]},
        actions=[{"action": "escalate", "to": "tier_2"}]), "triggers[0].actions[0]",
     "does nothing"),
    ("noop up from top", lambda d: d["triggers"][0].update(
        conditions={"all": [{"field": "tier", "operator": "is", "value": "management"}]},
        actions=[{"action": "escalate", "to": "up"}]), "triggers[0].actions[0]", "top tier"),
    ("noop add tag", lambda d: d["triggers"][0].update(
        conditions={"all": [{"field": "tags", "operator": "includes_all", "value": ["x"]}]},
        actions=[{"action": "add_tags", "tags": ["x"]}]), "triggers[0].actions[0]",
     "require present"),
    ("noop remove tag", lambda d: d["triggers"][0].update(
        conditions={"all": [{"field": "tags", "operator": "not_includes", "value": ["x", "y"]}]},
        actions=[{"action": "remove_tags", "tags": ["x"]}]), "triggers[0].actions[0]",
     "require absent"),
    ("noop priority", lambda d: d["triggers"][0]["actions"].append(
        {"action": "set_priority", "priority": "urgent"}), "triggers[0].actions[1]",
     "does nothing"),
    ("in lists disjoint", lambda d: d["triggers"][0]["conditions"]["all"].extend(
        [{"field": "status", "operator": "in", "value": ["new"]},
         {"field": "status", "operator": "not_in", "value": ["new", "open"]}]),
     "triggers[0].conditions.all[2]", "never fire"),
    ("present and absent", lambda d: d["triggers"][0]["conditions"]["all"].extend(
        [{"field": "assignee_id", "operator": "present"},
         {"field": "assignee_id", "operator": "not_present"}]),
     "triggers[0].conditions.all[2]", "never fire"),
    ("authority both ways", lambda d: d["triggers"][0]["conditions"]["all"].extend(
        [{"field": "amount.refund", "operator": "within_authority"},
         {"field": "amount.refund", "operator": "above_authority"}]),
     "triggers[0].conditions.all[2]", "never fire"),
    ("add and remove", lambda d: d["triggers"][0]["actions"].extend(
        [{"action": "add_tags", "tags": ["z"]}, {"action": "remove_tags", "tags": ["z"]}]),
     "triggers[0].actions", "same tags"),
    ("duplicate trigger", lambda d: d["triggers"].append(copy.deepcopy(d["triggers"][0])),
     "triggers[2].name", "already used"),
    ("contradictory triggers", lambda d: d["triggers"].append(
        {**copy.deepcopy(d["triggers"][1]), "name": "other",
         "actions": [{"action": "escalate", "to": "tier_2"}]}),
     "triggers[2]", "contradicts"),
    ("dead any alternative", lambda d: d["triggers"][0]["conditions"].update(any=[
        {"field": "priority", "operator": "is", "value": "low"},
        {"field": "attention_score", "operator": "greater_than", "value": 50}]),
     "triggers[0].conditions.any[0]", "unreachable"),
    ("no any alternative can hold", lambda d: d["triggers"][0]["conditions"].update(any=[
        {"field": "priority", "operator": "is", "value": "low"},
        {"field": "priority", "operator": "less_than", "value": "high"}]),
     "triggers[0].conditions.any", "never fire"),
    ("specific trigger outranked", lambda d: d["triggers"].append(
        {"name": "legal_vip", "conditions": {"all": [
            *d["triggers"][1]["conditions"]["all"],
            {"field": "organization.segment", "operator": "is", "value": "vip"}]},
         "actions": [{"action": "escalate", "to": "tier_2"}]}),
     "triggers[2]", "never takes effect"),
    ("specific trigger removes what the general adds", lambda d: d["triggers"].append(
        {"name": "urgent_low_risk", "conditions": {"all": [
            *d["triggers"][0]["conditions"]["all"],
            {"field": "attention_score", "operator": "less_than", "value": 10}]},
         "actions": [{"action": "remove_tags", "tags": ["tg_urgent"]}]}),
     "triggers[2]", "removes tags"),
    ("template syntax", lambda d: d["templates"].update(bad="{% if %}"), "templates.bad",
     "syntax"),
    ("route target", lambda d: d["oncall"]["routes"]["pager"].update(target="nope"),
     "oncall.routes.pager.target", "URL"),
    ("tier calendar", lambda d: d["tiers"]["tier_1"].update(calendar="mars"),
     "tiers.tier_1.calendar", "support"),
    ("tier oncall", lambda d: d["tiers"]["tier_1"].update(oncall="nobody"),
     "tiers.tier_1.oncall", "pager"),
    ("duplicate group", lambda d: d["tiers"]["tier_2"].update(group_id=101),
     "tiers.tier_2.group_id", "already used"),
    ("duplicate order", lambda d: d["tiers"]["tier_2"].update(order=1),
     "tiers.tier_2.order", "already used"),
    ("authority tier", lambda d: d["authority"]["limits"].update(tier_9={"refund": 1}),
     "authority.limits.tier_9", "tier"),
    ("approver", lambda d: d["authority"]["approvers"].update(refund="bank"),
     "authority.approvers.refund", "finance"),
    ("negative limit", lambda d: d["authority"]["limits"]["tier_1"].update(refund=-1),
     "authority.limits.tier_1.refund", "greater than or equal"),
    ("plan", lambda d: d["helpdesk"].update(plan="gold"), "helpdesk.plan", "enterprise"),
    ("default tier", lambda d: d["helpdesk"].update(default_tier="tier_9"),
     "helpdesk.default_tier", "tier"),
    ("sla sub-schema", lambda d: d["sla"]["policies"][0]["metrics"][0].update(metric="x"),
     "sla.policies[0].metrics[0].metric", "first_reply_time"),
    ("calendar sub-schema", lambda d: d["calendars"]["support"].update(time_zone="Mars/Base"),
     "calendars.support.time_zone", "time zone"),
    ("sla calendar ref", lambda d: d["sla"].update(default_calendar="mars"),
     "sla.default_calendar", "calendar"),
    ("changelog date", lambda d: d["changelog"].update(date="yesterday"), "changelog.date",
     "ISO"),
    ("keywords", lambda d: d["keywords"].update(legal=[]), "keywords.legal", "shorter"),
]


@pytest.mark.parametrize("mutate,path,word", [c[1:] for c in ERROR_CASES],
                         ids=[c[0] for c in ERROR_CASES])
def test_error_paths(mutate, path, word):
    errors = errors_of(_mut(mutate))
    hits = [m for p, m in errors if p == path]
    assert hits, f"no error at {path}; got {errors}"
    assert any(word.lower() in m.lower() for m in hits), hits


def test_a_more_specific_trigger_that_outranks_the_general_one_is_allowed():
    d = base_doc()
    d["triggers"].append({"name": "legal_security", "conditions": {"all": [
        *d["triggers"][1]["conditions"]["all"],
        {"field": "risk_tags", "operator": "includes", "value": ["security"]}]},
        "actions": [{"action": "escalate", "to": "security"}]})     # rank 5 > management's 4
    d["triggers"][0]["conditions"]["any"] = [
        {"field": "priority", "operator": "is", "value": "low"},     # dead, but one can hold
        {"field": "attention_score", "operator": "greater_than", "value": 50}]
    errors = errors_of(d)
    assert not [e for e in errors if e[0] == "triggers[2]"], errors
    assert not [e for e in errors if e[0] == "triggers[0].conditions.any"], errors


def test_all_errors_are_collected_at_once():
    def many(d):
        d["tiers"]["tier_1"]["x"] = 1
        d["triggers"][0]["conditions"]["all"].append({"field": "nope", "operator": "is"})
        d["triggers"][0]["actions"].append({"action": "note", "template": "missing"})
        d["templates"]["bad"] = "{{"
    paths = paths_of(_mut(many))
    assert {"tiers.tier_1.x", "triggers[0].conditions.all[1].field",
            "triggers[0].actions[1].template", "templates.bad"} <= paths


def test_file_errors(tmp_path):
    p = tmp_path / "m.json"
    p.write_text("{not json")
    assert "not valid JSON" in errors_of(p)[0][1]
    assert "cannot read" in errors_of(tmp_path / "missing.json")[0][1]
    p.write_text("[]")
    assert "JSON object" in errors_of(p)[0][1]


# -- CLI ----------------------------------------------------------------------------------------
def test_check_cli_ok_and_errors(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(check, [str(REPO / "manifest.json")])
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.output and "triggers" in ok.output
    default = runner.invoke(check, [])
    assert default.exit_code == 0
    bad = tmp_path / "bad.json"
    doc = base_doc()
    doc["triggers"][0]["conditions"]["all"].append({"field": "priority", "operator": "huge"})
    doc["foo"] = 1
    bad.write_text(json.dumps(doc))
    res = runner.invoke(check, [str(bad)])
    assert res.exit_code == 1
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    assert "foo: unknown key; allowed: $schema, version" in lines[0] or \
        any(ln.startswith("foo: unknown key") for ln in lines)
    assert any(ln.startswith("triggers[0].conditions.all[1].operator: ") for ln in lines)


def test_commands_are_registered_on_the_main_cli():
    from tiergate.plugin.cli import main

    runner = CliRunner()
    res = runner.invoke(main, ["check", str(REPO / "manifest.json")])
    assert res.exit_code == 0 and "OK" in res.output
    assert runner.invoke(main, ["schema"]).exit_code == 0
    assert runner.invoke(main, ["manifest", "log", "--help"]).exit_code == 0
    assert runner.invoke(main, ["simulate", "--help"]).exit_code == 0


def test_schema_cli_validates_the_manifest():
    import jsonschema_rs
    res = CliRunner().invoke(schema, [])
    assert res.exit_code == 0
    sch = json.loads(res.output)
    assert sch["properties"]["triggers"]["description"]
    assert "operator" in sch["$defs"]["Condition"]["properties"]
    v = jsonschema_rs.validator_for(sch)
    doc = read_document(REPO / "manifest.json")
    assert v.is_valid(doc), [e.message for e in v.iter_errors(doc)][:5]
    doc["triggers"][0]["actions"][0]["bogus"] = 1
    assert not v.is_valid(doc)
    doc = read_document(REPO / "manifest.json")
    doc["tiers"]["tier_1"]["order"] = "x"
    assert not v.is_valid(doc)
    assert json_schema()["$defs"]["Action"]["allOf"]


def test_manifest_log_cli(tmp_path):
    from datetime import datetime, timezone

    from tiergate.runtime.manifest_store import FileHistory, record

    hist = FileHistory(tmp_path / "log.jsonl")
    a = base_doc()
    record(hist, load_manifest(a), datetime(2026, 11, 27, tzinfo=timezone.utc))
    a["tiers"]["tier_1"]["owner_id"] = 205
    a["changelog"]["message"] = "new frontline owner"
    record(hist, load_manifest(a), datetime(2026, 11, 28, tzinfo=timezone.utc))
    res = CliRunner().invoke(manifest_group, ["log", "--file", str(tmp_path / "log.jsonl")])
    assert res.exit_code == 0, res.output
    assert "new frontline owner" in res.output
    assert "~ tiers.tier_1.owner_id: 201 -> 205" in res.output
    assert res.output.index("new frontline owner") < res.output.index("(first version)")


def test_shipped_manifest_keywords_match_the_enricher_defaults(repo_root):
    """The demo manifest carries the same keyword lists the enricher falls back to, so a desk
    running the shipped manifest and one without keyword lists tag alike."""
    manifest = read_document(repo_root / "manifest.json")
    defaults = json.loads((repo_root / "nlp" / "default_keywords.json").read_text())
    assert manifest["keywords"] == defaults
