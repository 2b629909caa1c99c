"""``tiergate score`` reads each line on its own (issue 22): a bad line yields an error object
with its line number in its place, every other line is scored, and the exit code is 0 unless
every line was bad. Real CLI processes on bytes stdin, the real spaCy pipeline."""
from __future__ import annotations

import json
import re
import subprocess
import sys

TIERGATE = [sys.executable, "-m", "tiergate.plugin.cli", "score"]


def run(stdin: bytes, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(TIERGATE + list(args), input=stdin, capture_output=True, timeout=300)


def rows(proc) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]


def good(i: int) -> bytes:
    return json.dumps({"text": f"ticket {i}: " + ("I cannot log in" if i % 2 else "thanks")}).encode()


def test_one_bad_line_among_1000_yields_999_results_and_one_error():
    lines = [good(i) for i in range(1000)]
    lines[500] = b'{"text": "unterminated'
    proc = run(b"\n".join(lines) + b"\n")
    assert proc.returncode == 0, proc.stderr.decode()
    out = rows(proc)
    assert len(out) == 1000
    errors = [r for r in out if "error" in r]
    assert errors == [{"line": 501, "field": "<line>", "error": errors[0]["error"]}]
    assert "line 501" in errors[0]["error"] and "not valid JSON" in errors[0]["error"]
    assert all("attention_score" in r for i, r in enumerate(out) if i != 500)
    assert b"Traceback" not in proc.stderr and b"1 of 1000 line(s)" in proc.stderr


def test_lone_surrogate_and_invalid_utf8_lines_are_scored_with_the_rest():
    stdin = b"\n".join([
        good(1),
        b'{"text": "half an emoji \\ud83d and I cannot log in"}',
        b'{"text": "caf\xe9 \xff\xfe: I cannot log in"}',              # not UTF-8
        b'{"comments": ["can\\u0000not log in", "<p>still <b>broken</b></p><p>help</p>"]}',
        good(3),
    ]) + b"\n"
    proc = run(stdin)
    assert proc.returncode == 0, proc.stderr.decode()
    out = rows(proc)
    assert len(out) == 5 and not any("error" in r for r in out)
    for row in out[1:4]:
        assert "login" in {t["tag"] for t in row["risk_tags"]}, row


def test_a_huge_text_is_scored_on_its_start_and_says_so():
    text = "I cannot log in, log below\n" + "x" * (10_800_000 - 27)
    proc = run(json.dumps({"text": text}).encode() + b"\n" + good(2) + b"\n")
    assert proc.returncode == 0, proc.stderr.decode()
    first, second = rows(proc)
    budget = [r for r in first["reasons"] if r["signal"] == "text_budget"]
    assert budget == [{"signal": "text_budget", "points": 0.0,
                       "detail": budget[0]["detail"]}]
    assert re.fullmatch(r"analysed the first (199,9\d\d|200,000) of 10,800,000 characters",
                        budget[0]["detail"]), budget
    assert "login" in {t["tag"] for t in first["risk_tags"]}
    assert sum(r["points"] for r in first["reasons"]) == first["attention_score"]
    assert "attention_score" in second


def test_every_line_bad_exits_1_with_an_error_object_per_line():
    proc = run(b'{"text": 5}\n[1, 2]\n\n{"comments": []}\n')
    assert proc.returncode == 1
    out = rows(proc)
    assert [(r["line"], r["field"]) for r in out] == [(1, "text"), (2, "<line>"), (4, "comments")]
    assert b"Traceback" not in proc.stderr


def test_workers_keep_order_and_isolate_bad_lines():
    lines = [good(i) for i in range(40)]
    lines[7] = b"{not json"
    lines[20] = b'{"text": "bad \\udc00 surrogate, cannot log in"}'
    proc = run(b"\n".join(lines) + b"\n", "--workers", "2")
    assert proc.returncode == 0, proc.stderr.decode()
    out = rows(proc)
    assert len(out) == 40 and out[7]["line"] == 8 and "error" in out[7]
    assert "login" in {t["tag"] for t in out[20]["risk_tags"]}
    assert sum(1 for r in out if "error" in r) == 1
