"""A worker loads the enrichment's lazily loaded parts before its first job (``jobs.worker.warm``),
so the first tickets after a start do not wait for them. Checked in a fresh interpreter, where
nothing has loaded them yet."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
from tiergate.jobs.runtime import enricher_for
from tiergate.jobs.worker import warm
from tiergate.nlp import language
from tiergate.plugin.core.manifest import load_manifest

enricher = enricher_for(load_manifest(%r))
assert language._IDENTIFIER is None, "the language model was loaded before the warm-up"
warm(enricher)
assert language._IDENTIFIER is not None, "warm() did not load the language model"
print("warm ok")
"""


def test_warm_loads_the_language_model_before_the_first_ticket():
    done = subprocess.run([sys.executable, "-c", SCRIPT % str(ROOT / "manifest.json")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "warm ok" in done.stdout


def test_warm_never_stops_a_worker_from_starting(caplog):
    from tiergate.jobs.worker import warm

    class Broken:
        def score_many(self, conversations):
            raise RuntimeError("model file missing")

    warm(Broken())    # returns: the failure is logged, the worker starts
    assert any("warm-up failed" in r.getMessage() for r in caplog.records)
