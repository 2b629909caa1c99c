"""What a trained model (``tiergate train``, manifest ``nlp_model``) costs when it scores tickets,
next to the rules alone in the same process: the per-ticket worker path and the batched path
(``tiergate score``), with and without the optional embedding column, plus peak memory.

    python bench/bench_model.py [--quick]

``run(quick)`` returns rows ``{name, value, unit, baseline, ratio}`` for ``bench/run.py``; the
baseline is the rules-only enricher on the same tickets, ratio = its time / the model's time
(1.0 = free). Three small models are trained first on generated tickets (the texts of
``bench_nlp.make_tickets``, labelled by whether they ask for a manager or a refund): a stacked
model with and without the embedding column, and a two-step ladder (graded labels: refund 1,
manager 2) without it; their quality is not the point. Every round clears the enricher's and
the encoder's text caches, and timings are the best of interleaved rounds (the machine is
shared).
"""
from __future__ import annotations

import resource
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_nlp import _best_interleaved, as_tickets, make_tickets  # noqa: E402


def _level(text: str) -> int:
    return 2 if "manager" in text else 1 if "refund" in text else 0


def run(quick: bool = False) -> list[dict]:
    from tiergate.nlp import embed, stack
    from tiergate.nlp.enrich import Enricher

    n_train, n_each, n_batch = (200, 100, 400) if quick else (600, 300, 1500)
    rounds = 2 if quick else 3
    train = make_tickets(n_train, seed=11)
    texts = make_tickets(n_batch, seed=12)
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    tickets = as_tickets(texts[:n_each], now)
    variants = {"rules": Enricher(None)}
    with tempfile.TemporaryDirectory(prefix="tiergate-bench-model-") as tmp:
        for name, emb, graded in (("model", False, False), ("ladder", False, True),
                                  ("model+embeddings", True, False)):
            if emb and not embed.available():
                continue
            levels = [_level(t) if graded else min(_level(t), 1) for t in train]
            fit = stack.fit_ladder(train, levels, epochs=2, embeddings=emb,
                                   rules=variants["rules"])
            fit.model.save(Path(tmp) / name)
            variants[name] = Enricher(None, model_path=str(Path(tmp) / name))

    def clear(enricher):
        enricher._cache.clear()
        embed._CACHE.clear()

    def each(enricher):
        def go():
            clear(enricher)
            for t in tickets:
                enricher.enrich(t, now)
        return go

    def batch(enricher):
        def go():
            clear(enricher)
            enricher.score_many([[t] for t in texts])
        return go

    names = list(variants)
    for e in variants.values():      # warm up (vocabularies, the encoder's first load)
        e.score_many([[t] for t in texts[:20]])
    t_each = _best_interleaved([each(variants[k]) for k in names], rounds)
    t_batch = _best_interleaved([batch(variants[k]) for k in names], rounds)
    rows = []
    for k, te, tb in zip(names, t_each, t_batch):
        rows.append({"name": f"model.enrich_ticket[{k}] (worker path)",
                     "value": round(te / n_each * 1000, 3), "unit": "ms/ticket",
                     "baseline": round(t_each[0] / n_each * 1000, 3),
                     "ratio": round(t_each[0] / te, 3)})
        rows.append({"name": f"model.score_many[{k}] (tiergate score)",
                     "value": round(n_batch / tb), "unit": "tickets/s",
                     "baseline": round(n_batch / t_batch[0]), "ratio": round(t_batch[0] / tb, 3)})
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append({"name": "model.peak_rss (all variants loaded)", "value": round(peak_mb, 1),
                 "unit": "MB", "baseline": None, "ratio": None})
    return rows


if __name__ == "__main__":  # pragma: no cover
    for row in run("--quick" in sys.argv):
        print(f"{row['name']:<52} {row['value']:>10} {row['unit']:<10} "
              f"baseline {row['baseline']}  ratio {row['ratio']}")
