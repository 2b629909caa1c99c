"""tiergate simulate: replay with a simulated clock, timers, SLA events, --against diff."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tiergate.plugin.core.manifest import load_manifest
from tiergate.plugin.simulate import (neutral_enrichment, replay, simulate, simulate_rows,
                                      ticket_from_example)

from test_manifest_base import NOW, base_doc

REPO = Path(__file__).resolve().parent.parent


def row(**kw):
    base = {"external_id": "t1", "subject": "Down", "description": "It is down",
            "priority": "normal", "status": "open", "type": "incident", "channel": "web",
            "tags": [], "age_minutes": 300, "group_id": 101, "assignee_id": None,
            "requester": {"name": "A", "email": "a@x.example"}, "organization": None,
            "comments": []}
    base.update(kw)
    return base


def test_ticket_from_example():
    t = ticket_from_example(row(comments=[{"author": "agent", "body": "hi", "public": True,
                                           "channel": "web", "minutes_ago": 100}],
                                organization={"name": "O", "segment": "vip",
                                              "account_value": 10, "renewal_in_days": 5}),
                            NOW, 7)
    assert t.comments[0].author_role == "end-user" and t.comments[0].body == "It is down"
    assert t.comments[1].author_role == "agent"
    assert (NOW - t.created_at).total_seconds() == 300 * 60
    assert t.organization.segment == "vip" and (t.organization.renewal_at - NOW).days == 5


def test_a_first_comment_repeating_the_description_is_the_same_message_read_once():
    first = {"author": "customer", "body": "It is down\n", "minutes_ago": 300}
    later = {"author": "customer", "body": "Still down.", "minutes_ago": 10}
    t = ticket_from_example(row(comments=[first, later]), NOW, 9)
    assert [c.body for c in t.comments] == ["It is down", "Still down."]
    agent_first = {**first, "author": "agent"}      # an agent quoting it is a reply of its own
    assert len(ticket_from_example(row(comments=[agent_first]), NOW, 9).comments) == 2


def test_an_internal_note_in_an_example_is_an_agents_private_comment_not_the_customers(tmp_path):
    note = {"author": "internal", "body": "Customer threatens to sue, legal informed.",
            "minutes_ago": 10}
    t = ticket_from_example(row(comments=[note]), NOW, 8)
    assert t.comments[1].author_role == "agent" and t.comments[1].public is False
    from tiergate.nlp.enrich import Enricher
    assert "legal" not in Enricher(None).enrich(t, NOW).tags
    as_customer = ticket_from_example(row(comments=[{**note, "author": "customer"}]), NOW, 8)
    assert "legal" in Enricher(None).enrich(as_customer, NOW).tags


def test_an_example_with_an_unknown_comment_author_is_refused_naming_the_field(tmp_path):
    import click
    import pytest
    from tiergate.plugin.examples import read_examples
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(row(comments=[{"author": "bot", "body": "x"}])) + "\n")
    with pytest.raises(click.UsageError, match=r"t.jsonl:1: comments\[0\]\.author: must be one of"):
        read_examples(path)
    path.write_text(json.dumps(row(comments=[{"author": "agent"}])) + "\n")
    with pytest.raises(click.UsageError, match=r"comments\[0\]\.body: required string"):
        read_examples(path)
    path.write_text(json.dumps(row(comments="hello")) + "\n")
    with pytest.raises(click.UsageError, match=r"comments: must be a list"):
        read_examples(path)


def test_timer_fires_inside_the_replay():
    doc = base_doc()
    doc["triggers"] = [{"name": "old", "conditions": {"all": [
        {"field": "age", "operator": "greater_than", "value": 2}]},
        "actions": [{"action": "add_tags", "tags": ["old"]},
                    {"action": "escalate", "to": "up"}]}]
    m = load_manifest(doc)
    rep = replay(row(), m, NOW, 1, neutral_enrichment)
    assert [f["trigger"] for f in rep.fired] == ["old"]
    # fired by the timer 2 h after creation, not at the final "now" (5 h after creation)
    assert rep.fired[0]["at"] == "2026-11-25T10:00:01Z"
    assert rep.escalations[0]["to_tier"] == "tier_2"
    assert "old" in rep.final_tags and rep.final_group_id == 102


def test_sla_events_in_json():
    doc = base_doc()
    m = load_manifest(doc)
    rep = replay(row(priority="urgent", age_minutes=90), m, NOW, 1, neutral_enrichment)
    stages = [(e["metric"], e["stage"]) for e in rep.sla]
    assert ("first_reply_time", "warn:75") in stages and ("first_reply_time", "breach") in stages
    warn = [e for e in rep.sla if e["stage"] == "warn:75"][0]
    assert warn["at"] == "2026-11-25T12:15:00Z"            # 75% of 60 min after 11:30


def test_against_diff_and_cli(tmp_path):
    a = base_doc()
    b = base_doc()
    b["triggers"][0]["actions"] = [{"action": "escalate", "to": "tier_3"}]
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps(a))
    pb.write_text(json.dumps(b))
    tickets = tmp_path / "t.jsonl"
    tickets.write_text("\n".join(json.dumps(r) for r in [
        row(external_id="u", priority="urgent"), row(external_id="n")]) + "\n")
    runner = CliRunner()
    res = runner.invoke(simulate, ["--tickets", str(tickets), "--manifest", str(pa), "--against",
                                   str(pb), "--json", "--now", "2026-11-25T13:00:00Z", "--no-nlp"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["a"]["escalation_rate"] == 0.0 and out["b"]["escalation_rate"] == 0.5
    assert out["diff"]["tickets_changed"][0]["external_id"] == "u"
    assert out["diff"]["trigger_counts"] == {}
    text = runner.invoke(simulate, ["--tickets", str(tickets), "--manifest", str(pa),
                                    "--against", str(pb), "--now", "2026-11-25T13:00:00Z",
                                    "--no-nlp"])
    assert text.exit_code == 0 and "escalation rate 0.0% -> 50.0%" in text.output
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    res = runner.invoke(simulate, ["--tickets", str(tickets), "--manifest", str(bad)])
    assert res.exit_code != 0 and "tiers" in res.output


def test_demo_examples_with_nlp():
    """The shipped examples through the real enricher and the shipped manifest."""
    rows = [json.loads(x) for x in (REPO / "examples" / "tickets.jsonl").read_text().splitlines()
            if x.strip()]
    m = load_manifest(REPO / "manifest.json")
    run = simulate_rows(rows, m, NOW)
    by_id = {r.external_id: r for r in run.tickets}
    for calm in ("demo-calm-1", "demo-calm-2", "demo-calm-3"):
        assert not by_id[calm].fired and not by_id[calm].escalated, calm
    for hot in ("demo-outage", "demo-login", "demo-legal", "demo-repeat"):
        r = by_id[hot]
        assert r.escalated and r.fired, hot
        assert any(t.startswith("tg_") and not t.startswith("tg_fired") for t in r.final_tags)
        assert r.escalations[0]["reasons"]
    assert by_id["demo-legal"].escalations[0]["to_tier"] == "legal"
    assert by_id["demo-outage"].escalations[0]["to_tier"] == "tier_3"
    small = by_id["demo-refund-small"]
    assert not small.escalated and "tg_authority_within" in small.final_tags
    assert by_id["demo-refund-large"].escalations[0]["to_tier"] == "billing"
    assert run.summary()["tickets"] == len(rows)


def test_against_lists_tickets_decided_differently_without_an_escalation(tmp_path):
    """Two manifests that escalate nothing but tag and time tickets differently: the changed
    tickets are listed with what differs, the unchanged one is not."""
    a = base_doc()
    b = base_doc()
    b["triggers"][0]["actions"] = [{"action": "add_tags", "tags": ["tg_other"]}]
    b["sla"]["policies"][0]["match"] = {"priorities": ["normal"]}
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps(a))
    pb.write_text(json.dumps(b))
    tickets = tmp_path / "t.jsonl"
    tickets.write_text("\n".join(json.dumps(r) for r in [
        row(external_id="u", priority="urgent"), row(external_id="n"),
        row(external_id="low", priority="low")]) + "\n")
    args = ["--tickets", str(tickets), "--manifest", str(pa), "--against", str(pb),
            "--now", "2026-11-25T13:00:00Z", "--no-nlp"]
    res = CliRunner().invoke(simulate, args + ["--json"])
    assert res.exit_code == 0, res.output
    changed = {t["external_id"]: t for t in json.loads(res.stdout)["diff"]["tickets_changed"]}
    assert set(changed) == {"u", "n"}
    assert changed["u"]["differs"] == ["tags", "sla"]
    assert "tg_urgent" in changed["u"]["a_tags"] and "tg_other" in changed["u"]["b_tags"]
    assert changed["n"]["differs"] == ["sla"] and changed["n"]["a_sla"] == []
    text = CliRunner().invoke(simulate, args)
    assert text.exit_code == 0
    assert "tickets decided differently: 2" in text.output
    assert "  u: tags" in text.output and "  n: sla" in text.output and "  low:" not in text.output
