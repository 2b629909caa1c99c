"""Golden files: every example conversation's rendered notes, checked in under tests/golden, and
each section of each handoff note checked against the facts the conversation expects
(``expect``: section title -> phrases that must appear in it; ``absent``: phrases that must
appear nowhere).

Regenerate after an intended change with ``TIERGATE_UPDATE_GOLDEN=1`` and review the diff for
reading quality (short, scannable, every required section present) before committing.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tiergate.plugin.core import handoff as h
from tiergate.plugin.core.model import (ClockState, Comment, Enrichment, Escalation, FiredTrigger,
                                        Ticket, parse_time)

REPO = Path(__file__).resolve().parent.parent
CONVERSATIONS = REPO / "examples" / "conversations"
GOLDEN = REPO / "tests" / "golden"
MANIFEST = json.loads((CONVERSATIONS / "_manifest.json").read_text())
NAMES = sorted(p.stem for p in CONVERSATIONS.glob("*.json") if not p.name.startswith("_"))
UPDATE = os.environ.get("TIERGATE_UPDATE_GOLDEN") == "1"


def load(name: str) -> dict:
    """A conversation as model objects: ticket, parent, enrichment, escalation, fired, clocks."""
    d = json.loads((CONVERSATIONS / f"{name}.json").read_text())
    return {
        "name": name, "description": d["description"], "now": parse_time(d["now"]),
        "ticket": Ticket.from_dict(d["ticket"]),
        "parent": Ticket.from_dict(d["parent"]) if d.get("parent") else None,
        "enrichment": Enrichment.from_dict(d["enrichment"]),
        "escalation": Escalation.from_dict(d["escalation"]) if d.get("escalation") else None,
        "fired": tuple(FiredTrigger.from_dict(f) for f in d.get("fired", ())),
        "clocks": tuple(ClockState.from_dict(c) for c in d.get("clocks", ())),
        "mode": d.get("mode", "auto"), "then": d.get("then"),
        "expect": d.get("expect"), "absent": d.get("absent", ()),
    }


def with_then(ticket: Ticket, then: dict) -> Ticket:
    """The ticket after the conversation's next step (tags added, comments appended)."""
    import dataclasses
    comments = ticket.comments + tuple(Comment.from_dict(c) for c in then.get("comments", ()))
    tags = tuple(dict.fromkeys(ticket.tags + tuple(then.get("add_tags", ()))))
    return dataclasses.replace(ticket, comments=comments, tags=tags)


def render_conversation(name: str, manifest=MANIFEST) -> str:
    c = load(name)
    t, e, now = c["ticket"], c["enrichment"], c["now"]
    out = [f"<!-- {name}: {c['description']} -->",
           "<!-- rendered by tests/test_handoff_golden.py; regenerate: TIERGATE_UPDATE_GOLDEN=1 -->"]
    if c["escalation"] is not None:
        for note in h.handoff_notes(t, e, c["escalation"], c["fired"], c["clocks"], manifest, now,
                                    parent=c["parent"]):
            out += ["", "## Public reply" if note.public else "## Internal handoff note", "",
                    note.body]
    # decide writes the authority note only when the ticket stays (an escalation's handoff note
    # names the one approver instead)
    authority = h.authority_note(t, e, manifest, now) if c["escalation"] is None else None
    if authority is not None:
        out += ["", "## Authority note", "", authority.body]
    if c["mode"] == "manual":
        first = h.manual_escalation_update(t, e, manifest, now)
        out += ["", f"## Manual escalation (tags +{list(first.add_tags)} -{list(first.remove_tags)})"]
        for note in first.notes:
            out += ["", note.body]
        if c["then"]:
            t2 = with_then(t, c["then"])
            second = h.manual_escalation_update(t2, e, manifest, now)
            out += ["", f"## After the #handoff comment (tags +{list(second.add_tags)} "
                        f"-{list(second.remove_tags)})"]
            for note in second.notes:
                out += ["", note.body]
    return "\n".join(out) + "\n"


def test_there_are_several_conversations():
    assert len(NAMES) >= 15
    assert sum(1 for n in NAMES if load(n)["expect"]) >= 15
    assert {"outage_with_logs", "login_multichannel", "refund_within_authority",
            "refund_above_authority", "legal_threat", "angry_repeat_contact",
            "merged_followup"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_golden(name):
    text = render_conversation(name)
    path = GOLDEN / f"{name}.md"
    if UPDATE or not path.exists():
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if not UPDATE:
            pytest.fail(f"golden file {path.name} was missing and has been written; review it")
    assert text == path.read_text(), (
        f"rendered notes of {name} differ from tests/golden/{name}.md; if intended, rerun with "
        "TIERGATE_UPDATE_GOLDEN=1 and review the diff")


@pytest.mark.parametrize("name", NAMES)
def test_golden_reading_quality(name):
    """Short, scannable, no empty sections, exactly one marker per note."""
    text = (GOLDEN / f"{name}.md").read_text()
    notes = [n.strip() for n in re.split(r"^## .*$", text, flags=re.M)[1:]]
    assert notes
    for note in notes:
        lines = note.splitlines()
        for i, line in enumerate(lines):
            if re.fullmatch(r"\*\*[^*]+\*\*", line):                 # a section heading
                assert i + 1 < len(lines) and lines[i + 1].startswith("- "), (name, line)
        markers = re.findall(r"\[tiergate:[0-9a-f]{16}\.[0-9a-f]{16}\]", note)
        assert len(markers) <= 1 and (not markers or lines[-1] == markers[0]), name
        assert len(note) < 4500 and len(lines) < 80, f"{name}: note too long to read in one go"
        assert all(len(line) < 400 for line in lines), name


def handoff_note_of(name: str) -> str:
    """The conversation's full handoff note: the escalation's, or the one a manual escalation
    gets once its context is complete."""
    c = load(name)
    t, e, now = c["ticket"], c["enrichment"], c["now"]
    if c["escalation"] is not None:
        return h.handoff_note(t, e, c["escalation"], c["fired"], c["clocks"], MANIFEST, now,
                              parent=c["parent"]).body
    (note,) = h.manual_escalation_update(with_then(t, c["then"]), e, MANIFEST, now).notes
    return note.body


def sections_of(body: str) -> dict[str, str]:
    """Section title -> its lines, in the order they appear."""
    parts = re.split(r"^\*\*([^*\n]+)\*\*$", body, flags=re.M)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


WITH_FACTS = [n for n in NAMES if load(n)["expect"]]


@pytest.mark.parametrize("name", WITH_FACTS)
def test_each_section_states_the_expected_facts(name):
    c = load(name)
    body = handoff_note_of(name)
    sections = sections_of(body)
    required = [title for _, title in h.SECTIONS]
    assert [t for t in sections if t in required] == required, (name, list(sections))
    for title in required:
        assert sections[title].startswith("- "), (name, title)      # present, never empty
    for title, phrases in c["expect"].items():
        for phrase in phrases:
            assert phrase in sections[title], (name, title, phrase, sections[title])
    text = render_conversation(name)
    for phrase in c["absent"]:
        assert phrase not in text, (name, phrase)
