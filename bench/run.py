"""One entry point for every benchmark: ``python bench/run.py [--quick] [--json] [--only NAME]``.

Each ``bench/bench_*.py`` (and ``bench/chaos.py``) exposes ``run(quick: bool) -> list[dict]`` with keys name, value, unit,
baseline, ratio; the baseline is measured in the same process, so ratios compare like with like.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for a fast look")
    parser.add_argument("--json", action="store_true", help="print a JSON list and nothing else")
    parser.add_argument("--only", action="append", default=[], help="run only bench_NAME (repeatable)")
    args = parser.parse_args(argv)
    rows, failed = [], []
    sys.path.insert(0, str(HERE))
    for path in [*sorted(HERE.glob("bench_*.py")), HERE / "chaos.py"]:
        short = path.stem.removeprefix("bench_")
        if args.only and short not in args.only:
            continue
        try:
            rows.extend(load(path).run(quick=args.quick))
        except Exception:
            failed.append(short)
            print(f"bench {short} failed:\n{traceback.format_exc()}", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'figure':60} {'value':>11} {'unit':14} {'baseline':>11} {'ratio':>7}")
        for r in rows:
            base = "" if r.get("baseline") is None else f"{r['baseline']:.4g}"
            ratio = "" if r.get("ratio") is None else f"{r['ratio']:.3g}"
            print(f"{r['name'][:60]:60} {r['value']:>11.4g} {r['unit'][:14]:14} {base:>11} {ratio:>7}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
