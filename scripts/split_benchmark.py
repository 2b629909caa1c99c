"""Split labelled benchmark tickets into a development half and a held-back half.

    python scripts/split_benchmark.py benchmark/raw/*.jsonl

A ticket's half is fixed by a hash of its external_id alone (even: development, odd: held
back), so adding tickets never moves an existing one between halves and the split never
depends on file order; the counts per category and language are printed to check the balance.
Writes ``benchmark/tickets-dev.jsonl`` and
``benchmark/tickets-heldout.jsonl``. Calibration and training read only the development half;
the held-back half is for ``tiergate eval --tickets`` alone (tests/test_benchmark.py checks).
"""
from __future__ import annotations

import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "benchmark"


def held_back(external_id: str) -> int:
    """1 when the ticket belongs to the held-back half."""
    return int(hashlib.sha256(external_id.encode("utf-8")).hexdigest(), 16) % 2


def main(paths: list[str]) -> None:
    halves: tuple[list[dict], list[dict]] = ([], [])
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                half = held_back(row["external_id"])
                halves[half].append(row)
                label = row["label"]
                counts[label.get("category", "?"), label.get("language", "en")][half] += 1
    for key, (dev, held) in sorted(counts.items()):
        print(f"{key[0]:18} {key[1]}: dev {dev}, held back {held}")
    for name, rows in zip(("dev", "heldout"), halves):
        (OUT / f"tickets-{name}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"tickets-{name}.jsonl: {len(rows)} tickets")


if __name__ == "__main__":
    main(sys.argv[1:])
