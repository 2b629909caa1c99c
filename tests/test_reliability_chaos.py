"""A bounded chaos run in the suite: signed webhooks (10% duplicates) into the real receiver under
waitress, two real ``tiergate worker`` processes, one SIGKILLed and restarted mid-run, redis-server
SIGKILLed and restarted on its append-only file, 429s and 503s injected by the local Zendesk server
and a short helpdesk outage; every ticket checked against the scenario's oracle: nothing lost,
nothing doubled, nothing wrong."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from chaos import run_chaos  # noqa: E402
from chaos_oracle import Expected, judge, load_scenario  # noqa: E402
from chaos_traffic import templates  # noqa: E402


def test_the_oracle_covers_every_template_and_tells_lost_doubled_and_wrong_apart():
    expected = load_scenario([t["external_id"] for t in templates()])
    assert expected["demo-outage"].group == 103 and "tg_outage" in expected["demo-outage"].tags
    assert expected["demo-calm-1"].notes == 0 and not expected["demo-calm-1"].tags
    outage, calm = expected["demo-outage"], expected["demo-calm-1"]
    ok_tags = ("tg_fired_outage_p1", "tg_outage", "tg_review_queue")
    assert judge(outage, ok_tags, 103, ["[tiergate:a]"])[0] == "ok"
    assert judge(outage, (), 101, [])[0] == "lost"
    assert judge(outage, ok_tags, 103, ["[tiergate:a]", "[tiergate:a]"])[0] == "doubled"
    assert judge(outage, ok_tags, 102, ["[tiergate:a]"])[0] == "wrong"             # wrong tier
    assert judge(outage, ("tg_review_queue",), 103, ["[tiergate:a]"])[0] == "wrong"  # tag missing
    assert judge(calm, (), 101, [])[0] == "ok"
    assert judge(calm, ("tg_review_queue",), 101, [])[0] == "wrong"                 # calm ticket touched
    try:
        load_scenario(["no-such-template"])
    except ValueError as exc:
        assert "templates.no-such-template: missing" in str(exc)
    else:
        raise AssertionError("a template without an expected outcome must be refused")
    assert isinstance(outage, Expected)


def test_small_chaos_run_loses_nothing_and_doubles_nothing():
    report = run_chaos(webhooks=300, tickets=30, workers=2, kill_every=4.0, kills=1, fault_rate=0.05,
                       max_seconds=150, redis_restarts=1, outage_seconds=5.0)
    assert report["worker_kills"] == 1
    assert report["redis_restarts"] == 1 and report["helpdesk_outages"] == 1
    assert report["sent"] >= 300 and report["accepted"] >= 260
    assert report["duplicates_dropped"] >= 25
    assert report["lost"] == 0, report["problems"]
    assert report["doubled"] == 0, report["problems"]
    assert report["wrong"] == 0, report["problems"]
    assert not report["cap_hit"]
    assert report["writes"] >= 1
