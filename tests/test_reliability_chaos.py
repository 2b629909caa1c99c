"""A bounded chaos run in the suite: signed webhooks (10% duplicates) into the real receiver, two
real ``tiergate worker`` processes, one SIGKILLed and restarted mid-run, 429s and 503s injected by
the local Zendesk server; every ticket checked: nothing lost, nothing doubled."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from chaos import run_chaos  # noqa: E402


def test_small_chaos_run_loses_nothing_and_doubles_nothing():
    report = run_chaos(webhooks=300, tickets=30, workers=2, kill_every=4.0, kills=1, fault_rate=0.05,
                       max_seconds=150)
    assert report["worker_kills"] == 1
    assert report["sent"] >= 300 and report["accepted"] >= 260
    assert report["duplicates_dropped"] >= 25
    assert report["lost"] == 0, report["problems"]
    assert report["doubled"] == 0, report["problems"]
    assert report["unexpected"] == 0, report["problems"]
    assert not report["cap_hit"]
    assert report["writes"] >= 1
