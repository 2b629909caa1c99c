"""Every benchmark in ``bench/`` runs in its quick mode and reports well-formed rows, so the
benchmarks cannot rot between the runs that read their figures. Figures are not asserted here:
speed targets live in the benchmarks' ratios, not in tests."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
NAMES = sorted(p.stem.removeprefix("bench_") for p in BENCH.glob("bench_*.py"))


def test_every_benchmark_is_listed():
    assert {"decide", "nlp", "semantic", "sweep", "writeback"} <= set(NAMES)


@pytest.mark.parametrize("name", [*NAMES, "chaos"])
def test_benchmark_runs_in_quick_mode(name):
    proc = subprocess.run([sys.executable, str(BENCH / "run.py"), "--quick", "--json", "--only", name],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(proc.stdout)
    assert rows, f"bench_{name} reported nothing"
    for row in rows:
        assert row["name"] and row["unit"], row
        assert isinstance(row["value"], (int, float)) and math.isfinite(row["value"]), row
        if row.get("ratio") is not None:
            assert math.isfinite(row["ratio"]) and row["ratio"] >= 0, row
