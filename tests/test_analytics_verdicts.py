"""Review verdicts feed back: recorded through ``tiergate review record``, they become the
training labels ``tiergate train`` uses for their tickets, and ``tiergate review rules`` lists the
rules whose escalations reviewers judged unnecessary."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from tiergate.nlp.records import read_labelled
from tiergate.plugin.analytics.log import DecisionLog
from tiergate.plugin.analytics.log_schema import SCHEMA_VERSION
from tiergate.plugin.analytics.verdicts import relabeller, verdicts
from tiergate.plugin.cli import main
from tiergate.plugin.core.model import Decision, Enrichment, Escalation, FiredTrigger, Ticket

AT = datetime(2024, 6, 3, 9, 0, tzinfo=timezone.utc)
RULES = {1: "angry_customer", 2: "angry_customer", 3: "angry_customer", 4: "vip_account", 5: "vip_account",
         6: "legal_threat"}
# (ticket id, level the history derived); 7 and 8 were never escalated
HISTORY = [(1, 1), (2, 2), (3, 0), (4, 1), (5, 1), (6, 2), (7, 0), (8, 0)]
TEXTS = {1: "my invoice is wrong again", 2: "this is the third time, I want a manager",
         3: "the export crashes with error 500", 4: "our whole team is locked out",
         5: "please call me back today", 6: "our lawyer will contact you", 7: "how do I change my password",
         8: "thanks, that worked"}


def _escalate(log: DecisionLog, tid: int, rule: str) -> None:
    at = AT + timedelta(hours=tid)
    ticket = Ticket(id=tid, subject=f"t{tid}", description="", status="open", priority="normal", type="incident",
                    group_id=101, assignee_id=None, requester_id=1, organization_id=None, tags=(), channel="web",
                    created_at=at - timedelta(minutes=30), updated_at=at)
    d = Decision(ticket_id=tid, at=at, manifest_version="m", fired=(FiredTrigger(rule),),
                 escalation=Escalation(from_tier="tier_1", to_tier="tier_2", kind="hierarchical", group_id=102,
                                       owner_id=None, trigger=rule))
    log.record(d, ticket, Enrichment(attention_score=70, sentiment=0, sentiment_label="neutral", complaint=False),
               helpdesk="zendesk", delivery_id=f"d{tid}")


@pytest.fixture
def reviewed(tmp_path):
    """Six escalations; five reviews recorded through the CLI."""
    url = f"sqlite:///{tmp_path}/log.sqlite"
    log = DecisionLog(url)
    for tid, rule in RULES.items():
        _escalate(log, tid, rule)
    log.close()
    runner = CliRunner()
    for args in (["1", "--necessary", "no"], ["2", "--necessary", "no", "--root-cause", "misrouted"],
                 ["3", "--necessary", "yes"], ["4", "--necessary", "yes", "--level", "2"],
                 ["5", "--lower-tier", "yes", "--necessary", "yes"]):
        res = runner.invoke(main, ["review", "record", *args, "--helpdesk", "zendesk", "--db", url])
        assert res.exit_code == 0, res.output
    history = tmp_path / "history.jsonl"
    history.write_text("".join(json.dumps({"id": tid, "comments": [TEXTS[tid]], "level": level}) + "\n"
                               for tid, level in HISTORY), encoding="utf-8")
    return url, history


def test_verdicts_override_the_history_labels_of_their_tickets(reviewed):
    url, history = reviewed
    log = DecisionLog(url)
    found = verdicts(log.reviews(), "zendesk")
    log.close()
    assert sorted(found) == [1, 2, 3, 4, 5]
    with open(history, encoding="utf-8") as fh:
        rows = read_labelled(fh, relabeller(found))
    assert rows.ids == [1, 2, 3, 4, 5, 6, 7, 8]
    # 1, 2 unnecessary -> 0; 3 necessary -> at least 1; 4 level 2 given; 5 a lower tier could resolve -> 0
    assert rows.levels == [0, 0, 1, 2, 0, 2, 0, 0]
    assert rows.relabelled == {0: 1, 1: 2, 2: 0, 3: 1, 4: 1}
    assert verdicts(DecisionLog(url).reviews(), "zammad") == {}, "verdicts belong to their desk"


def test_train_uses_the_verdicts_and_says_how_many(reviewed, tmp_path):
    url, history = reviewed
    res = CliRunner().invoke(main, ["train", "--history", str(history), "--out", str(tmp_path / "model"),
                                    "--folds", "0", "--epochs", "1", "--no-embeddings", "--db", url])
    assert res.exit_code == 0, res.output
    assert "review verdicts: 5 zendesk ticket(s) with a verdict" in res.stderr
    assert "review verdicts: 5 used as labels (5 changed a history label)" in res.stderr
    report = json.loads(res.stdout)
    assert report["verdicts"] == {"used": 5, "changed": 5}
    # the history alone: levels 0,0,0,1,1,1,2,2 (5 escalated); with the verdicts: 0 x5, 1, 2 x2
    assert report["levels"] == {"0": 5, "1": 1, "2": 2} and report["escalated"] == 3

    plain = CliRunner().invoke(main, ["train", "--history", str(history), "--out", str(tmp_path / "model2"),
                                      "--folds", "0", "--epochs", "1", "--no-embeddings", "--no-verdicts"])
    assert plain.exit_code == 0, plain.output
    assert json.loads(plain.stdout)["levels"] == {"0": 3, "1": 3, "2": 2}
    assert "verdicts" not in json.loads(plain.stdout)


def test_rules_report_lists_rules_judged_wrong(reviewed):
    url, _ = reviewed
    res = CliRunner().invoke(main, ["review", "rules", "--db", url, "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = {r["rule"]: r for r in json.loads(res.stdout)}
    assert rows["angry_customer"] == {"rule": "angry_customer", "reviewed": 3, "unnecessary": 2,
                                      "share": pytest.approx(2 / 3), "tickets": ["zendesk#1", "zendesk#2"]}
    assert (rows["vip_account"]["reviewed"], rows["vip_account"]["unnecessary"]) == (2, 0)
    assert "legal_threat" not in rows, "an unreviewed rule is not listed"
    md = CliRunner().invoke(main, ["review", "rules", "--db", url]).stdout
    assert "| angry_customer | 3 | 2 | 67% | zendesk#1, zendesk#2 |" in md
    assert "vip_account |" not in md and "1 other rule(s) reviewed" in md
    other_month = CliRunner().invoke(main, ["review", "rules", "--db", url, "--month", "2024-07"]).stdout
    assert "No review has judged an escalation yet" in other_month


def test_review_level_out_of_range_is_a_usage_error(reviewed):
    url, _ = reviewed
    res = CliRunner().invoke(main, ["review", "record", "1", "--level", "12", "--helpdesk", "zendesk", "--db", url])
    assert res.exit_code == 2 and "--level" in res.output and "Traceback" not in res.output


def test_a_version_1_log_gains_the_level_column(tmp_path):
    url = f"sqlite:///{tmp_path}/old.sqlite"
    log = DecisionLog(url)
    _escalate(log, 1, "angry_customer")
    with log.engine.begin() as conn:        # make it look like a database of the previous release
        conn.execute(text("ALTER TABLE tg_reviews DROP COLUMN level"))
        conn.execute(text("UPDATE tg_meta SET value = '1' WHERE key = 'schema_version'"))
    log.close()
    upgraded = DecisionLog(url)
    assert upgraded.schema_version() == SCHEMA_VERSION == 2
    assert upgraded.upsert_review("zendesk", 1, "2024-06", status="reviewed", level=0).level == 0
    assert upgraded.ticket("zendesk", 1).escalations
