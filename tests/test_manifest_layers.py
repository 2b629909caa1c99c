"""Layered manifests: merge rules, the demo's site file over the shipped defaults, CLI, schema."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import jsonschema_rs
import pytest
from click.testing import CliRunner

from tiergate.plugin.core.errors import ManifestError
from tiergate.plugin.core.manifest import (default_manifest_path, load_manifest,
                                           read_document)
from tiergate.plugin.core.manifest_jsonschema import json_schema
from tiergate.plugin.core.manifest_layers import merge, merge_documents, resolve
from tiergate.plugin.core.manifest import read_shipped as read_json
from tiergate.plugin.manifest_cli import manifest as manifest_group
from tiergate.runtime.manifest_store import FileHistory, record
from tiergate.plugin.simulate import make_enricher, simulate_rows

from test_manifest_base import NOW, base_doc

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "manifest.json"
DEFAULTS = REPO / "plugin" / "data" / "default_manifest.json"


def site(**sections):
    return {"extends": "tiergate:default", **sections}


def names(doc):
    return [t["name"] for t in doc["triggers"]]


# -- merge rules --------------------------------------------------------------------------------
def test_objects_merge_key_by_key_recursively():
    base = {"a": {"b": 1, "c": {"d": 2, "e": 3}}, "f": 4}
    out = merge(base, {"a": {"c": {"e": 30, "g": 5}}, "h": 6})
    assert out == {"a": {"b": 1, "c": {"d": 2, "e": 30, "g": 5}}, "f": 4, "h": 6}
    assert base == {"a": {"b": 1, "c": {"d": 2, "e": 3}}, "f": 4}       # inputs untouched


def test_scalars_null_and_unnamed_lists_replace():
    base = {"n": 1, "s": "x", "tags": ["a", "b"], "obj": {"k": 1}, "o": {"x": 1}}
    out = merge(base, {"n": 2, "s": None, "tags": ["c"], "obj": 7})
    assert out == {"n": 2, "s": None, "tags": ["c"], "obj": 7, "o": {"x": 1}}
    named = {"items": [{"name": "a", "v": 1}]}
    assert merge(named, {"items": []}) == {"items": []}                 # an empty list replaces too


def test_trigger_patch_by_name_keeps_the_rest_and_the_order():
    doc = merge_documents(base_doc(), {"triggers": [{"name": "legal", "enabled": False}]})
    legal = doc["triggers"][1]
    assert names(doc) == ["urgent_tag", "legal"] and legal["enabled"] is False
    assert legal["actions"] == base_doc()["triggers"][1]["actions"]
    m = load_manifest(doc)
    assert not m.triggers[1].enabled and [c.trigger.name for c in m.program] == ["urgent_tag"]


def test_trigger_patch_merges_conditions_and_replaces_actions():
    patch = {"name": "urgent_tag", "conditions": {"any": [
        {"field": "channel", "operator": "is", "value": "email"}]},
        "actions": [{"action": "add_tags", "tags": ["tg_hot"]}]}
    t = merge_documents(base_doc(), {"triggers": [patch]})["triggers"][0]
    assert t["conditions"]["all"] == base_doc()["triggers"][0]["conditions"]["all"]
    assert t["conditions"]["any"][0]["field"] == "channel"
    assert t["actions"] == [{"action": "add_tags", "tags": ["tg_hot"]}]


def test_trigger_removal_and_new_triggers_are_appended():
    new = {"name": "vip", "conditions": {"all": [
        {"field": "organization.segment", "operator": "is", "value": "vip"}]},
        "actions": [{"action": "add_tags", "tags": ["tg_vip"]}]}
    doc = merge_documents(base_doc(), {"triggers": [new, {"name": "urgent_tag", "remove": True}]})
    assert names(doc) == ["legal", "vip"]
    load_manifest(doc)


def test_bad_removals_name_the_field():
    with pytest.raises(ManifestError) as info:
        merge_documents(base_doc(), {"triggers": [{"name": "nope", "remove": True}]})
    assert info.value.errors == [("triggers[0]", "nothing named 'nope' in the defaults to remove")]
    with pytest.raises(ManifestError) as info:
        merge_documents(base_doc(), {"triggers": [{"name": "legal", "remove": True,
                                                   "enabled": False}]})
    assert info.value.errors[0][0] == "triggers[0].remove"
    with pytest.raises(ManifestError) as info:
        merge_documents(base_doc(), {"keywords": {"legal": [{"remove": True}]}})
    assert info.value.errors[0][0] == "keywords.legal[0].remove"


def test_version_and_changelog_come_from_the_site_file_only():
    doc = merge_documents(base_doc(), {"tiers": {"tier_1": {"owner_id": 205}}})
    assert "version" not in doc and "changelog" not in doc and "$schema" not in doc
    assert doc["tiers"]["tier_1"] == {**base_doc()["tiers"]["tier_1"], "owner_id": 205}
    ours = {"version": "site-7", "changelog": {"author": "ops", "date": "2026-12-04",
                                               "message": "x"}}
    doc = merge_documents(base_doc(), ours)
    assert doc["version"] == "site-7" and doc["changelog"] == ours["changelog"]
    assert list(doc)[:2] == ["version", "changelog"]


def test_unknown_extends_is_an_error_naming_the_field(tmp_path):
    for target in ("tiergate:nope", 3, None):
        with pytest.raises(ManifestError) as info:
            load_manifest({"extends": target, "version": "x"})
        (path, message), = info.value.errors
        assert path == "extends" and "tiergate:default" in message
    p = tmp_path / "site.json"
    p.write_text(json.dumps({"extends": "./other.json"}))
    with pytest.raises(ManifestError) as info:
        load_manifest(p)
    assert info.value.errors[0][0] == "extends"


def test_a_document_without_extends_is_used_as_a_whole():
    assert resolve(base_doc(), read_json) == base_doc()
    assert load_manifest(base_doc()).to_dict() == base_doc()


def test_site_errors_are_reported_on_the_effective_document():
    with pytest.raises(ManifestError) as info:
        load_manifest(site(tiers={"tier_1": {"calendar": "nowhere"}}))
    assert any(p.startswith("tiers.tier_1") and "nowhere" in m for p, m in info.value.errors)


def test_shipped_site_patches_disable_remove_and_add(tmp_path):
    p = tmp_path / "site.json"
    p.write_text(json.dumps(site(triggers=[{"name": "outage_p1", "enabled": False},
                                           {"name": "bad_rating_voice", "remove": True}])))
    m = load_manifest(p)
    shipped = load_manifest(DEFAULTS)
    assert len(m.triggers) == len(shipped.triggers) - 1
    assert "bad_rating_voice" not in {t.name for t in m.triggers}
    assert not next(t for t in m.triggers if t.name == "outage_p1").enabled
    assert m.label is None and m.changelog is None


# -- the demo's site file -----------------------------------------------------------------------
def test_demo_site_file_is_short_and_the_embedded_manifest():
    assert len(SITE.read_text().splitlines()) < 150
    assert json.loads(SITE.read_text())["extends"] == "tiergate:default"
    assert default_manifest_path().resolve() == SITE.resolve()


def test_demo_site_file_effective_document_is_the_full_shipped_one():
    raw = json.loads(SITE.read_text())
    defaults = json.loads(DEFAULTS.read_text())
    effective = read_document(SITE)
    head = {k: raw[k] for k in ("$schema", "version", "changelog")}
    assert effective == {**defaults, **head}
    assert load_manifest(SITE).version == load_manifest({**defaults, **head}).version


def test_demo_site_file_decides_the_examples_like_the_full_document():
    rows = [json.loads(x) for x in (REPO / "examples" / "tickets.jsonl").read_text().splitlines()
            if x.strip()]
    layered, full = load_manifest(SITE), load_manifest(DEFAULTS)
    enrich = make_enricher(full)
    a, b = simulate_rows(rows, full, NOW, enrich), simulate_rows(rows, layered, NOW, enrich)
    assert any(r.escalated for r in a.tickets)
    for ra, rb in zip(a.tickets, b.tickets, strict=True):
        assert (ra.escalations, ra.fired, ra.final_tags, ra.final_group_id) == \
            (rb.escalations, rb.fired, rb.final_tags, rb.final_group_id), ra.external_id


# -- CLI and history ----------------------------------------------------------------------------
def test_manifest_show_prints_the_site_file_or_the_effective_document():
    runner = CliRunner()
    raw = runner.invoke(manifest_group, ["show", "--manifest", str(SITE)])
    assert raw.exit_code == 0 and raw.stdout == SITE.read_text()
    eff = runner.invoke(manifest_group, ["show", "--effective", "--manifest", str(SITE)])
    assert eff.exit_code == 0, eff.output
    assert json.loads(eff.stdout) == read_document(SITE)
    default = runner.invoke(manifest_group, ["show", "--effective"])
    assert json.loads(default.stdout) == json.loads(eff.stdout)
    assert "manifest: " in default.stderr and "manifest: " not in default.stdout


def test_manifest_show_effective_reports_errors(tmp_path):
    p = tmp_path / "site.json"
    p.write_text(json.dumps({"extends": "tiergate:nope"}))
    res = CliRunner().invoke(manifest_group, ["show", "--effective", "--manifest", str(p)])
    assert res.exit_code == 1 and "extends: unknown base" in res.output


def test_history_records_the_effective_document(tmp_path):
    hist = FileHistory(tmp_path / "log.jsonl")
    p = tmp_path / "site.json"
    doc = json.loads(SITE.read_text())
    p.write_text(json.dumps(doc))
    record(hist, load_manifest(p), datetime(2026, 12, 1, tzinfo=timezone.utc), str(p))
    doc["tiers"]["tier_1"]["owner_id"] = 205
    doc["changelog"]["message"] = "new frontline owner"
    doc["triggers"].append({"name": "outage_p1", "enabled": False})
    p.write_text(json.dumps(doc))
    record(hist, load_manifest(p), datetime(2026, 12, 2, tzinfo=timezone.utc), str(p))
    assert "triggers" in hist.entries()[-1]["document"] and "extends" not in \
        hist.entries()[-1]["document"]
    res = CliRunner().invoke(manifest_group, ["log", "--file", str(tmp_path / "log.jsonl")])
    assert res.exit_code == 0, res.output
    assert "~ tiers.tier_1.owner_id: 201 -> 205" in res.output
    assert "+ triggers[outage_p1].enabled: false" in res.output


# -- JSON Schema --------------------------------------------------------------------------------
def test_schema_validates_site_files_and_full_documents():
    v = jsonschema_rs.validator_for(json_schema())
    raw = json.loads(SITE.read_text())
    assert v.is_valid(raw), [e.message for e in v.iter_errors(raw)][:5]
    assert v.is_valid(read_document(SITE))
    assert v.is_valid(json.loads(DEFAULTS.read_text()))
    assert v.is_valid(site(triggers=[{"name": "x", "remove": True}]))
    for bad in (site(tiers={"tier_1": {"order": "x"}}),
                site(triggers=[{"enabled": False}]),                    # no name
                site(triggers=[{"name": "x", "remove": False}]),
                site(triggers=[{"name": "x", "actions": [{"action": "add_tags"}]}]),
                site(changelog={"author": "ops"}),                        # not merged: complete
                site(extends="elsewhere"),
                {"version": "no tiers"},                                  # a full document
                site(bogus=1)):
        assert not v.is_valid(bad), bad
