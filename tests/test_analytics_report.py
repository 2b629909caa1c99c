"""Report formats (md, csv, json), the demo's summary text, and the ``tiergate report``,
``review`` and ``backfill`` commands (backfill against the local Zendesk-compatible server)."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from test_analytics_history import TIERS, db_url, history  # noqa: F401

from tiergate.plugin.analytics.log import DecisionLog
from tiergate.plugin.analytics.report import render, report_dict, summary_text, to_markdown
from tiergate.plugin.cli import main

NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)


@pytest.fixture
def reviewed(history):
    history.upsert_review("zendesk", 1, "2024-05", sample="accepted", status="reviewed",
                          root_cause="knowledge_gap", follow_up="training", follow_up_status="open")
    history.upsert_review("zendesk", 4, "2024-05", sample="accepted", status="queued")
    return history


def test_report_dict_is_json_safe_and_complete(reviewed):
    r = report_dict(reviewed, "2024-05", now=NOW)
    assert json.loads(json.dumps(r)) == r
    assert (r["period"], r["start"], r["end"], r["tickets"]) == (
        "2024-05", "2024-05-01T00:00:00+00:00", "2024-06-01T00:00:00+00:00", 6)
    assert set(r["breakdowns"]) == {"type", "risk_tag", "agent", "team", "priority", "trigger"}
    assert [(q["ticket_id"], q["status"]) for q in r["review_queue"]] == [(4, "queued"), (1, "reviewed")]
    assert r["review_queue"][0]["subject"] == "ticket 4"
    assert r["metrics"]["rca_frequency"]["value"] == {"knowledge_gap": 1}
    assert set(r["definitions"]) == set(r["metrics"])


def test_markdown(reviewed):
    md = to_markdown(report_dict(reviewed, "2024-05", now=NOW))
    lines = md.splitlines()
    assert lines[0] == "# Escalation report — 2024-05"
    assert ("| Escalation rate | 50.0% ⚠️ above the 10% goal | 6 | tickets escalated at least once / "
            "tickets opened in the period (goal < 10%) |") in lines
    assert "| Time to escalation (median) | 60 min | 3 | ticket created -> first escalation, median over escalated tickets |" in lines
    assert "| MTTR | 3.4 h | 4 | mean time from creation to resolution of tickets resolved now |" in lines
    assert "| urgent | 7.0 h | 1 |" in lines                               # MTTR by priority
    assert "| legal_threat | 2 | 100.0% | 2.2 h | 2.0 h | 0.0% | - | 2.5 h | 0.0% | 0.0% | 1.00 |" in lines
    assert "| #4 ticket 4 | 2024-05 | accepted | queued | - | - |" in lines
    assert "| #1 ticket 1 | 2024-05 | accepted | reviewed | knowledge_gap | training (open) |" in lines
    for heading in ("## MTTR by priority", "## By issue type", "## By risk tag", "## By agent",
                    "## By team (group)", "## By priority", "## By trigger", "## Top triggers", "## Review queue"):
        assert heading in lines


def test_csv(reviewed):
    rows = list(csv.DictReader(io.StringIO(render(report_dict(reviewed, "2024-05", now=NOW), "csv"))))
    get = {(r["section"], r["dimension"], r["key"], r["metric"]): (r["value"], r["n"]) for r in rows}
    assert get[("overall", "", "", "escalation_rate")] == ("0.5", "6")
    assert get[("overall", "", "", "mttr_minutes")] == ("202.5", "4")
    assert get[("overall", "", "", "rca:knowledge_gap")] == ("1", "1")
    assert get[("mttr_by_priority", "priority", "(none)", "mttr_minutes")] == ("", "0")
    assert get[("breakdown", "team", "101", "escalation_rate")] == ("0.75", "4")
    assert get[("breakdown", "agent", "(unassigned)", "reopen_rate")] == ("1.0", "1")
    assert {r["period"] for r in rows} == {"2024-05"}


def test_summary_text(reviewed, tmp_path):
    text = summary_text(reviewed, "2024-05")
    assert text.splitlines()[0] == ("Escalation report (2024-05): 6 tickets seen, 3 escalated, "
                                    "escalation rate 50.0% — above the < 10% goal")
    assert "top triggers: legal_threat (2), sla_breach (1), vip_watch (1)" in text
    assert "review queue: 1 queued, 1 reviewed" in text
    empty = DecisionLog(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    assert "0 tickets seen, 0 escalated, escalation rate -" in summary_text(empty)
    empty.close()


# -- the commands ---------------------------------------------------------------------------------
@pytest.fixture
def runner(monkeypatch, tmp_path):
    for var in ("TIERGATE_DB_URL", "TIERGATE_MANIFEST", "TIERGATE_HELPDESK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


@pytest.mark.parametrize("args, message", [
    (["report", "--month", "2024-13"], "Invalid value for '--month': month: '2024-13' has month 13; months run 01-12"),
    (["report", "--month", "last"], "Invalid value for '--month': month: 'last' is not YYYY-MM"),
    (["report", "--format", "xml"], "Invalid value for '--format'"),
    (["report", "--db", "not a url"], "Invalid value for '--db': not a database URL"),
    (["review", "sample"], "Missing option '--month'"),
    (["review", "record", "1", "--necessary", "maybe"], "Invalid value for '--necessary': 'maybe': answer yes or no"),
    (["review", "record", "1", "--root-cause", "luck"], "Invalid value for '--root-cause'"),
    (["backfill", "--since", "yesterday"], "Invalid value for '--since'"),
])
def test_bad_input_is_a_usage_error(runner, args, message):
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_unreachable_database_is_exit_1(runner):
    result = runner.invoke(main, ["report", "--db", "postgresql+psycopg://nobody:secretpw@127.0.0.1:1/x"])
    assert result.exit_code == 1
    assert "unreachable" in result.output and "secretpw" not in result.output


def test_report_command_formats(runner, reviewed):
    db = reviewed.db_url
    md = runner.invoke(main, ["report", "--month", "2024-05", "--db", db])
    assert md.exit_code == 0 and md.output.startswith("# Escalation report — 2024-05")
    js = runner.invoke(main, ["report", "--month", "2024-05", "--format", "json", "--db", db])
    assert js.exit_code == 0 and json.loads(js.output)["metrics"]["escalation_rate"]["value"] == 0.5
    allt = runner.invoke(main, ["report", "--format", "json", "--db", db])
    assert json.loads(allt.output)["tickets"] == 7
    cs = runner.invoke(main, ["report", "--format", "csv", "--db", db, "-o", "out.csv"])
    assert cs.exit_code == 0
    with open("out.csv", encoding="utf-8") as fh:
        assert fh.readline().strip() == "period,section,dimension,key,metric,value,n"


def test_review_commands(runner, history):
    db = history.db_url
    out = runner.invoke(main, ["review", "sample", "--month", "2024-05", "--seed", "7", "--db", db])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == [
        "accepted  zendesk #1 legal_threat tier_1 -> tier_2: resolved in tier_2, worked there after the escalation",
        "accepted  zendesk #4 legal_threat tier_1 -> tier_2: now in tier_2, worked there after the escalation",
        "deferred  zendesk #3 sla_breach tier_1 -> tier_3: sent back: resolved in tier_1, escalated to tier_3",
        "queued 3 reviews for 2024-05, seed 7"]
    rec = runner.invoke(main, ["review", "record", "3", "--necessary", "no", "--lower-tier", "yes",
                               "--root-cause", "misrouted", "--follow-up", "training", "--prevent",
                               "runbook step", "--db", db])
    assert rec.exit_code == 0, rec.output
    assert rec.output.strip() == "reviewed zendesk #3 (2024-05): root cause misrouted, follow-up training (open)"
    missing = runner.invoke(main, ["review", "record", "2", "--db", db])
    assert missing.exit_code == 2 and "never escalated" in missing.output
    pm = runner.invoke(main, ["review", "postmortem", "3", "--db", db, "-o", "pm.md"])
    assert pm.exit_code == 0
    with open("pm.md", encoding="utf-8") as fh:
        text = fh.read()
    assert text.startswith("# Postmortem: ticket #3") and "- runbook step" in text
    none = runner.invoke(main, ["review", "sample", "--month", "2023-01", "--db", db])
    assert none.exit_code == 0 and "no accepted or deferred escalations in 2023-01" in none.output


def _zendesk_env(monkeypatch, zendesk_server):
    for key, value in zendesk_server.settings_overrides().items():
        monkeypatch.setenv({"zendesk_subdomain": "ZENDESK_SUBDOMAIN", "zendesk_email": "ZENDESK_EMAIL",
                            "zendesk_api_token": "ZENDESK_API_TOKEN", "zendesk_scheme": "ZENPY_FORCE_SCHEME",
                            "zendesk_netloc": "ZENPY_FORCE_NETLOC"}[key], str(value))


def test_backfill_reads_the_helpdesk_history(runner, monkeypatch, tmp_path, zendesk_server):
    examples = [
        {"external_id": f"bf-{i}", "subject": f"history {i}", "description": "hello", "priority": prio,
         "status": status, "type": "question", "channel": "email", "tags": [], "age_minutes": 600 - i * 60,
         "group_id": group, "assignee_id": None, "requester": {"name": "R", "email": f"r{i}@x.example"},
         "organization": None, "comments": []}
        for i, (prio, status, group) in enumerate([("low", "solved", 101), ("high", "open", 102),
                                                    ("normal", "new", 101)])]
    now = datetime.now(timezone.utc)
    ids = [zendesk_server.import_example(e, now, deliver=False) for e in examples]
    _zendesk_env(monkeypatch, zendesk_server)
    db = f"sqlite:///{tmp_path / 'bf.sqlite'}"
    result = runner.invoke(main, ["backfill", "--db", db])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "backfilled 3 tickets from zendesk"
    log = DecisionLog(db, tier_of_group=TIERS)
    facts = {f.ticket_id: f for f in log.facts()}
    assert sorted(facts) == sorted(ids)
    assert [(facts[i].status, facts[i].priority, facts[i].group_id) for i in ids] == [
        ("solved", "low", 101), ("open", "high", 102), ("new", "normal", 101)]
    assert facts[ids[0]].resolved_tier == "tier_1" and facts[ids[0]].solved_at is not None
    again = runner.invoke(main, ["backfill", "--db", db, "--status", "solved"])
    assert again.output.strip() == "backfilled 1 tickets from zendesk"
    assert log.counts()["tickets"] == 3                       # idempotent
    log.close()


def test_backfill_writes_training_history_with_escalation_levels(runner, monkeypatch, tmp_path,
                                                                  zendesk_server):
    """Groups of the embedded manifest: 101 tier 1, 102 tier 2, 104 management, 110 finance."""
    from tiergate.nlp.records import read_history

    now = datetime.now(timezone.utc)
    paths = {"stayed": [101], "tier 2": [101, 102], "management": [101, 102, 104],
             "finance": [101, 110], "moved down": [102, 101], "still open": [101, 102]}
    ids = {}
    for i, (name, groups) in enumerate(paths.items()):
        ids[name] = zendesk_server.import_example(
            {"external_id": f"hist-{i}", "subject": f"case {name}", "description": f"my {name} problem",
             "priority": "normal", "status": "open", "type": "problem", "channel": "email", "tags": [],
             "age_minutes": 300, "group_id": groups[0], "assignee_id": None,
             "requester": {"name": "R", "email": f"h{i}@x.example"}, "organization": None,
             "comments": [{"author": "customer", "body": "still waiting", "minutes_ago": 100},
                          {"author": "agent", "body": "looking into it", "minutes_ago": 90}]},
            now, deliver=False)
        for g in groups[1:]:
            zendesk_server.update_ticket(ids[name], group_id=g)
        if name != "still open":
            zendesk_server.update_ticket(ids[name], status="solved")
    _zendesk_env(monkeypatch, zendesk_server)
    out = tmp_path / "history.jsonl"
    result = runner.invoke(main, ["backfill", "--db", f"sqlite:///{tmp_path / 'h.sqlite'}",
                                  "--history", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 5 resolved tickets" in result.output and "0: 2, 1: 2, 2: 1" in result.output
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    level = {x["id"]: x["level"] for x in lines}
    assert level == {ids["stayed"]: 0, ids["tier 2"]: 1, ids["management"]: 2, ids["finance"]: 1,
                     ids["moved down"]: 0}
    first = next(x for x in lines if x["id"] == ids["tier 2"])
    # customer comments only (the agent's reply is left out), subject joined to the first
    assert first["comments"] == ["case tier 2\nmy tier 2 problem", "still waiting"]
    assert all(x["label"] is (x["level"] > 0) for x in lines)
    with open(out, encoding="utf-8") as fh:                     # what `tiergate train` reads
        texts, levels = read_history(fh)
    assert sorted(levels) == [0, 0, 1, 1, 2] and not (tmp_path / "history.jsonl.partial").exists()


def test_backfill_history_is_not_left_half_written(runner, monkeypatch, tmp_path, zendesk_server):
    _zendesk_env(monkeypatch, zendesk_server)
    monkeypatch.setenv("ZENDESK_API_TOKEN", "wrong-token")
    out = tmp_path / "history.jsonl"
    result = runner.invoke(main, ["backfill", "--db", f"sqlite:///{tmp_path / 'h.sqlite'}",
                                  "--history", str(out)])
    assert result.exit_code == 1 and "helpdesk stopped the backfill" in result.output
    assert "Traceback" not in result.output
    assert not out.exists() and not (tmp_path / "history.jsonl.partial").exists()
