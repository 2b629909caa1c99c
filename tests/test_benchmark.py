"""The labelled benchmark of realistic tickets and ``tiergate eval --tickets`` / ``calibrate``.

The benchmark is split by a hash of each ticket's id (``scripts/split_benchmark.py``); the
held-back half is read by nothing that trains or tunes: calibration refuses it, and the
manifest's thresholds are exactly what calibration computes from the development half.
"""
from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from tiergate.plugin.cli import main
from tiergate.plugin.core.manifest import read_document

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "benchmark" / "tickets-dev.jsonl"
HELD = ROOT / "benchmark" / "tickets-heldout.jsonl"
NOW = "2026-12-03T10:00:00Z"


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def split_module():
    spec = importlib.util.spec_from_file_location("split_benchmark",
                                                  ROOT / "scripts" / "split_benchmark.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_benchmark_size_languages_and_labels():
    dev, held = rows(DEV), rows(HELD)
    every = dev + held
    assert len(every) >= 400
    ids = [r["external_id"] for r in every]
    assert len(set(ids)) == len(ids)
    langs = Counter(r["label"]["language"] for r in every)
    other = sum(n for lang, n in langs.items() if lang != "en")
    assert other >= 0.2 * len(every)
    assert sum(1 for lang in ("de", "es", "fr", "pt") if langs[lang] >= 20) == 4
    for r in every:
        label = r["label"]
        assert isinstance(label["escalate"], bool)
        assert (label["team"] is None) is (not label["escalate"]), r["external_id"]
    risky = sum(r["label"]["escalate"] for r in every)
    assert 0.35 * len(every) <= risky <= 0.65 * len(every)


def test_halves_follow_the_id_hash_so_nothing_moves_between_them():
    held_back = split_module().held_back
    assert all(held_back(r["external_id"]) == 0 for r in rows(DEV))
    assert all(held_back(r["external_id"]) == 1 for r in rows(HELD))


def test_calibration_refuses_the_held_back_half():
    result = CliRunner().invoke(main, ["calibrate", "--tickets", str(HELD), "--now", NOW])
    assert result.exit_code == 2 and "held-back" in result.output


def test_shipped_thresholds_come_from_the_development_half():
    result = CliRunner().invoke(main, ["calibrate", "--tickets", str(DEV), "--now", NOW,
                                       "--manifest", str(ROOT / "manifest.json")])
    assert result.exit_code == 0, result.output
    computed = json.loads(result.output[:result.output.rindex("}") + 1])["thresholds"]
    shipped = read_document(ROOT / "manifest.json")["nlp"]["thresholds"]
    assert shipped == computed


def test_eval_tickets_reports_the_figures_and_worst_misses():
    result = CliRunner().invoke(main, ["eval", "--tickets", str(DEV), "--now", NOW, "--json"])
    assert result.exit_code == 0, result.output
    r = json.loads(result.output)
    assert r["tickets"] == len(rows(DEV)) and r["now"] == NOW
    for key in ("precision", "recall", "owner_accuracy"):
        assert 0.0 <= r[key] <= 1.0
    assert r["non_english"]["tickets"] > 0
    assert set(r["categories"]) >= {"outage", "security", "privacy", "calm", "near_miss"}
    assert len(r["worst"]) <= 10
    assert all(w["reasons"] for w in r["worst"])
    again = CliRunner().invoke(main, ["eval", "--tickets", str(DEV), "--now", NOW, "--json"])
    assert json.loads(again.output) == r, "a fixed --now decides the same way twice"


def test_eval_text_report_and_bad_label(tmp_path):
    text = CliRunner().invoke(main, ["eval", "--tickets", str(DEV), "--now", NOW])
    assert "escalation precision" in text.output and "worst misses" in text.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"subject": "x", "description": "y", "label": {"escalate": "yes"}}\n')
    result = CliRunner().invoke(main, ["eval", "--tickets", str(bad)])
    assert result.exit_code == 2
    assert "bad.jsonl:1: label.escalate" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("now,after_hours", [("2026-12-05T22:30:00Z", True),
                                             ("2026-12-02T10:30:00Z", False)])
def test_now_makes_after_hours_decisions_reproducible(tmp_path, now, after_hours):
    ticket = {"external_id": "x1", "subject": "Someone exported our customer list",
              "description": "There are two admin users in our account that nobody here "
                             "created, and one of them exported every customer record last "
                             "night.", "priority": "normal", "status": "new",
              "age_minutes": 20, "group_id": 101,
              "organization": {"name": "Acme", "segment": "enterprise"},
              "label": {"escalate": True, "team": "security", "tags": ["security"],
                        "category": "security", "language": "en"}}
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(ticket) + "\n")
    from tiergate.plugin.benchmark import decide_rows
    from tiergate.plugin.core.manifest import load_manifest
    from tiergate.plugin.examples import parse_now
    from tiergate.nlp.enrich import Enricher

    manifest = load_manifest(ROOT / "manifest.json")
    (out,) = decide_rows([ticket], manifest, parse_now(now), Enricher.from_manifest(manifest).enrich)
    assert out.got == "security"
    assert out.decision.escalation.after_hours is after_hours
    assert bool(out.decision.notifications) is after_hours
