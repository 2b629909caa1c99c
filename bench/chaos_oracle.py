"""The chaos run's independent oracle: what each ticket must look like at the end, declared as data
in ``bench/chaos_scenario.json`` (per ``examples/tickets.jsonl`` template: required tags, final
group, number of tiergate notes), written from what the ticket says, never computed by running
the plugin. ``judge`` sorts every ticket into ok / lost / doubled / wrong."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SCENARIO = Path(__file__).resolve().parent / "chaos_scenario.json"


@dataclass(frozen=True)
class Expected:
    meaning: str
    group: int
    tags: tuple[str, ...]
    notes: int


def load_scenario(template_ids: list[str], path: Path = SCENARIO) -> dict[str, Expected]:
    """``{external_id: Expected}`` for every template; a missing or malformed entry is a clear
    error naming the template and the field."""
    data = json.loads(path.read_text())
    entries = data.get("templates") or {}
    out: dict[str, Expected] = {}
    for tid in template_ids:
        entry = entries.get(tid)
        if not isinstance(entry, dict):
            raise ValueError(f"{path.name}: templates.{tid}: missing (every chaos template needs an expected outcome)")
        for name, kind in (("group", int), ("notes", int), ("tags", list), ("meaning", str)):
            if not isinstance(entry.get(name), kind):
                raise ValueError(f"{path.name}: templates.{tid}.{name}: expected {kind.__name__}")
        out[tid] = Expected(entry["meaning"], entry["group"], tuple(entry["tags"]), entry["notes"])
    return out


def judge(expected: Expected, tags: tuple[str, ...], group_id: int | None, fingerprints: list[str]) -> tuple[str, str]:
    """``(verdict, detail)``; verdict in ok, lost (an expected escalation left no trace: no note,
    no tiergate tag), doubled (a fingerprint twice, or more notes than expected), wrong (anything
    else that differs from the scenario: group, a required tag missing, a calm ticket touched)."""
    ours = {t for t in tags if t.startswith("tg_")}
    if len(fingerprints) != len(set(fingerprints)) or len(fingerprints) > expected.notes:
        return "doubled", (f"{len(fingerprints)} notes ({len(set(fingerprints))} distinct), expected "
                           f"{expected.notes}: {' '.join(fingerprints)}")
    acts = expected.notes > 0 or expected.tags
    if acts and not fingerprints and not ours:
        return "lost", f"untouched, expected {expected.meaning!r}"
    missing = sorted(set(expected.tags) - ours)
    if missing or group_id != expected.group or len(fingerprints) != expected.notes or (not acts and ours):
        return "wrong", (f"group {group_id} (expected {expected.group}), notes {len(fingerprints)}/{expected.notes}, "
                         f"missing {missing}, tags {sorted(ours)}")
    return "ok", ""
