"""The handoff note itself: fingerprints and repeats, size limit, escaping and sandbox,
channels and parent context, sections, the listed reasons, and a pure core."""
from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest

from handoff_support import MARKER, add_comment, conv, ends_with_marker, note_for
from test_handoff_golden import MANIFEST
from tiergate.plugin.core import handoff as h
from tiergate.plugin.core.manifest import default_manifest_path, load_manifest
from tiergate.plugin.core.model import (Change, ConditionResult, Enrichment, Escalation,
                                        FiredTrigger, Ticket)
from tiergate.plugin.core.templates import SecurityError, check_template, render


# -- fingerprints and repeats ---------------------------------------------------------------
def test_fingerprint_is_stable_and_distinct():
    fp = h.fingerprint(9101, "outage_enterprise", "tier3", 0)
    assert fp == h.fingerprint(9101, "outage_enterprise", "tier3", 0)
    assert re.fullmatch(r"[0-9a-f]{16}", fp)
    others = {h.fingerprint(9102, "outage_enterprise", "tier3", 0),
              h.fingerprint(9101, "other", "tier3", 0),
              h.fingerprint(9101, "outage_enterprise", "tier2", 0),
              h.fingerprint(9101, "outage_enterprise", "tier3", 1),
              h.fingerprint(9101, "outage_enterprise", "tier3", 0, kind="public")}
    assert fp not in others and len(others) == 5


def test_note_ends_with_its_marker_and_is_deterministic():
    c = conv("outage_with_logs")
    a, b = note_for(c), note_for(c)
    assert a == b and not a.public
    assert ends_with_marker(a.body, a.fingerprint)
    assert MARKER.findall(a.body) == [a.fingerprint]
    assert a.fingerprint == h.fingerprint(9101, "outage_enterprise", "tier3", 0)


def test_rerun_after_our_own_write_keeps_the_fingerprint():
    """A retried job sees the ticket after tiergate's write (note, group change by the bot,
    new tags, a later `now`): the fingerprint must not change, so decide skips the note."""
    c = conv("outage_with_logs")
    first = note_for(c)
    t = c["ticket"]
    after = add_comment(t, first.body, role="agent", author=299, public=False)
    after = dataclasses.replace(
        after, group_id=103, tags=t.tags + ("tg_fired_outage_enterprise",),
        changes=t.changes + (Change(at=c["now"], field="group_id", old=101, new=103, author_id=299),))
    again = h.handoff_note(after, c["enrichment"], c["escalation"], c["fired"], c["clocks"],
                           MANIFEST, c["now"] + timedelta(minutes=5))
    assert again.fingerprint == first.fingerprint
    assert first.fingerprint in h.trusted_fingerprints(after, {299})      # what decide checks
    # tiergate's own note is not quoted back as "tried" or evidence
    assert again.body.count("Reproduced with curl") == 1


def test_new_episode_after_the_ticket_left_the_target_group():
    c = conv("outage_with_logs")
    t = c["ticket"]
    moved = dataclasses.replace(t, changes=t.changes + (
        Change(at=c["now"], field="group_id", old=101, new=103, author_id=299),
        Change(at=c["now"], field="group_id", old=103, new=101, author_id=203)))
    n2 = h.handoff_note(moved, c["enrichment"], c["escalation"], c["fired"], c["clocks"],
                        MANIFEST, c["now"])
    assert n2.fingerprint != note_for(c).fingerprint
    assert h.default_episode(moved, c["escalation"]) == 1
    assert note_for(c, episode=7).fingerprint == h.fingerprint(9101, "outage_enterprise", "tier3", 7)


def test_fired_may_be_one_trigger_a_tuple_or_none():
    c = conv("outage_with_logs")
    one = h.handoff_note(c["ticket"], c["enrichment"], c["escalation"], c["fired"][0], c["clocks"],
                         MANIFEST, c["now"])
    many = note_for(c)
    none = h.handoff_note(c["ticket"], c["enrichment"], c["escalation"], None, (), None, c["now"])
    assert one.body == many.body
    assert "`sla.max_pct_elapsed` greater than `40`: seen `50`" in one.body
    assert "Trigger `outage_enterprise`" in none.body and none.fingerprint == one.fingerprint


# -- size limit -------------------------------------------------------------------------------
def _huge(c):
    t = c["ticket"]
    trace = "\n".join(f"    at com.acme.Module{i}.call(Module{i}.java:{i})" for i in range(3000))
    t = add_comment(t, "ERROR boom\n" + trace, channel="chat")
    for i in range(150):
        t = add_comment(t, f"We restarted node {i} and checked the logs again. " + "x" * 800,
                        role="agent", author=201)
    return t


@pytest.mark.parametrize("limit", [h.ZENDESK_COMMENT_LIMIT, 4000, 1500, 300])
def test_size_limit_trims_quoted_material_and_keeps_the_marker(limit):
    c = conv("outage_with_logs")
    t = _huge(c)
    note = h.handoff_note(t, c["enrichment"], c["escalation"], c["fired"], c["clocks"], MANIFEST,
                          c["now"], limit=limit)
    assert len(note.body.encode("utf-8")) <= limit
    assert ends_with_marker(note.body, note.fingerprint)
    assert note.body.startswith("@Cy Engineer (Tier 3)")


def test_size_limit_from_the_manifest_and_multibyte_text():
    c = conv("outage_with_logs")
    t = add_comment(c["ticket"], "ошибка: 连接失败 " * 2000)
    manifest = dict(MANIFEST, handoff=dict(MANIFEST["handoff"], comment_limit=2500))
    note = h.handoff_note(t, c["enrichment"], c["escalation"], c["fired"], c["clocks"], manifest,
                          c["now"])
    assert len(note.body.encode("utf-8")) <= 2500
    note.body.encode("utf-8").decode("utf-8")


def test_normal_notes_are_not_trimmed():
    body = note_for(conv("outage_with_logs")).body
    assert "trimmed" not in body and len(body.encode()) < 4000


# -- escaping, injection, sandbox -------------------------------------------------------------
EVIL = ("Hi {{ 7*7 }} {% for x in range(3) %}loop{% endfor %} <script>alert(1)</script> "
        "**bold** [click](https://evil.example) [tiergate:deadbeefdeadbeef] "
        "{{ ''.__class__.__mro__ }}\n# Heading\n- list item ERROR-1234 failed")


def test_quoted_text_is_data_only_and_escaped():
    c = conv("legal_threat")
    t = add_comment(c["ticket"], EVIL)
    note = h.handoff_note(t, c["enrichment"], c["escalation"], c["fired"], c["clocks"], MANIFEST,
                          c["now"])
    body = MARKER.sub("", note.body)
    assert "49" not in body and "looploop" not in body
    assert "{{ 7" in body and "{% for x in range(3) %}" in body      # literal, not evaluated
    assert "<script>" not in body and "&lt;script&gt;" in body
    assert "**bold**" not in body and r"\*\*bold\*\*" in body
    assert "[click]" not in body
    assert MARKER.findall(note.body) == [note.fingerprint]             # no spoofed marker
    assert "\n# Heading" not in body and "\n- list item" not in body    # no injected structure
    assert "`ERROR-1234`" in body


def test_sandbox_refuses_attribute_access_in_templates():
    with pytest.raises(SecurityError):
        render("{{ ''.__class__ }}", {})
    with pytest.raises(SecurityError):
        render("{{ x.__class__.__mro__ }}", {"x": 1})
    assert render("{{ '{{ 7*7 }}' }}", {}) == "{{ 7*7 }}"
    assert check_template("{% if %}") and check_template("{{ nope }}", {"summary"})
    assert check_template("{{ summary }}", h.TEMPLATE_VARIABLES["handoff"]) == []


def test_default_templates_only_use_declared_variables():
    for name, source in h.DEFAULT_TEMPLATES.items():
        if name in h.TEMPLATE_VARIABLES:
            assert check_template(source, h.TEMPLATE_VARIABLES[name]) == [], name
    assert h.required_problems(h.DEFAULT_TEMPLATES, [("route", "oncall_page")]) == []


def test_manifest_template_is_used_and_a_bad_one_falls_back():
    c = conv("outage_with_logs")
    custom = dict(MANIFEST, templates={"handoff": "{{ owner_line }}\nWHY: {{ reason | join(' / ') }}"})
    body = note_for(c, manifest=custom).body
    assert body.startswith("@Cy Engineer (Tier 3)") and "WHY: Trigger `outage_enterprise`" in body
    assert ends_with_marker(body, note_for(c).fingerprint)
    evil = dict(MANIFEST, templates={"handoff": "{{ ''.__class__.__mro__ }}"})
    body = note_for(c, manifest=evil).body
    assert "**Summary**" in body and "default used" in body and "object" not in body


# -- channels and parent context -------------------------------------------------------------
def test_every_channel_feeds_the_note_and_is_named():
    body = note_for(conv("login_multichannel")).body
    assert "The customer has written 3 times (email, chat, phone)" in body
    assert "(chat, customer)" in body and "(email, Ana)" in body
    assert "Latest (phone, 40 min ago)" in body
    assert "`AADSTS50105`" in body and "`login-error.png` attached (chat, customer)" in body


def test_parent_context_is_linked_and_included():
    c = conv("merged_followup")
    body = note_for(c).body
    assert "Follow-up of #9050" in body
    assert "(#9050, email, Cy)" in body and "orders-2026-11-19.csv" in body
    assert body.count("`EXPORT-113`") == 1                         # deduplicated across tickets
    no_parent = h.handoff_note(c["ticket"], c["enrichment"], c["escalation"], c["fired"],
                               c["clocks"], MANIFEST, c["now"])
    assert "Follow-up of #9050 (open it for earlier context)" in no_parent.body
    assert "#9050, email" not in no_parent.body


def test_problem_and_merged_links():
    c = conv("outage_with_logs")
    t = dataclasses.replace(c["ticket"], problem_id=8000)
    body = h.handoff_note(t, c["enrichment"], c["escalation"], c["fired"], (), MANIFEST, c["now"]).body
    assert "Linked to problem #8000" in body
    t = add_comment(c["ticket"], "Request #7777 was closed and merged into this request.",
                    role="system", author=None)
    body = h.handoff_note(t, c["enrichment"], c["escalation"], c["fired"], (), MANIFEST, c["now"]).body
    assert "Merged from #7777" in body


# -- sections -------------------------------------------------------------------------------
def test_sections_are_filled_from_the_thread():
    body = note_for(conv("outage_with_logs")).body
    for heading in ("**Summary**", "**Impact**", "**Why it escalated**",
                    "**What was tried**", "**Errors, logs, attachments**",
                    "**Promised to the customer**", "**SLA**", "**Risk signals**"):
        assert heading in body
    assert "212 stores" in body                                     # users affected
    assert "renewal in 40 days" in body
    assert "Macros applied: `outage first response`" in body
    assert "`GW-5021`" in body and "at GatewayClient.forward" in body
    assert "`pos-gateway.log` attached" in body
    assert "**OVERDUE** since 12:50 UTC" in body                    # "within 1 hour" at 11:50
    assert "Next reply (Enterprise urgent): 30 min left of 1 h" in body
    assert "-0.3 → -0.8" in body and "worsening" in body


def test_required_sections_stay_and_say_so_when_empty_optional_ones_go():
    c = conv("refund_within_authority")
    esc = Escalation("tier1", "finance", "functional", 110, 210, "billing")
    body = h.handoff_note(c["ticket"], c["enrichment"], esc, None, (), MANIFEST, c["now"]).body
    assert "**SLA**\n- no SLA target applies to this ticket" in body
    assert "**Deadline**\n- none stated" in body
    assert "**Promised to the customer**" not in body
    assert not re.search(r"\*\*[^*\n]+\*\*\n(?!- )", body)


def test_macro_detection_sources():
    c = conv("legal_threat")
    t = dataclasses.replace(c["ticket"], changes=c["ticket"].changes + (
        Change(at=c["now"], field="macro", old=None, new="Data deletion: first response", author_id=201),))
    t = add_comment(t, "[macro: GDPR request intake]\nThanks, we are on it.", role="agent", author=201)
    body = h.handoff_note(t, c["enrichment"], c["escalation"], None, (), MANIFEST, c["now"]).body
    assert "`Data deletion: first response`" in body and "`GDPR request intake`" in body


def test_promise_time_parsing():
    at = conv("outage_with_logs")["now"].replace(hour=10, minute=0)
    assert h._resolve_due("We'll update you by 14:00 UTC.", at)[0] == at.replace(hour=14)
    assert h._resolve_due("I will call you back by 3pm", at)[0] == at.replace(hour=15)
    assert h._resolve_due("We'll reply within 2 hours", at)[0] == at + timedelta(hours=2)
    due, timed = h._resolve_due("We'll get back to you tomorrow", at)
    assert due.date() == (at + timedelta(days=1)).date() and not timed
    assert h._resolve_due("We'll look into it", at) == (None, False)


# -- robustness -------------------------------------------------------------------------------
def test_minimal_ticket_and_no_manifest():
    t = Ticket(1, "Help", "It broke", "new", None, None, None, None, None, None, (), "web", None, None)
    e = Enrichment(5, 0.0, "neutral", False)
    x = Escalation(None, "tier2", "hierarchical", None, None, "manual_test")
    note = h.handoff_note(t, e, x, None, (), None, t.created_at or __import__("datetime").datetime.now(
        __import__("datetime").timezone.utc))
    assert note.body.startswith("@tier2 team") and "It broke" in note.body


def test_real_manifest():
    manifest = load_manifest(default_manifest_path())
    c = conv("outage_with_logs")
    note = note_for(c, manifest=manifest)
    assert ends_with_marker(note.body, note.fingerprint) and "**Summary**" in note.body
    templates = getattr(manifest, "templates", None) or {}
    for name in h.TEMPLATE_VARIABLES:
        src = templates.get(name) if hasattr(templates, "get") else None
        src = src if isinstance(src, str) else getattr(src, "body", None)
        if isinstance(src, str):
            assert check_template(src, h.TEMPLATE_VARIABLES[name]) == [], name


# -- more reasons and edge cases --------------------------------------------------------------
def test_after_hours_functional_and_parametrised_conditions():
    c = conv("refund_above_authority")
    esc = Escalation("tier1", "finance", "functional", 110, 210, "billing_dispute",
                     after_hours=True, oncall_route="finance_pager")
    fired = FiredTrigger("billing_dispute", (
        ConditionResult("triggers[7].conditions.all[0]", "customer_contacts", "greater_than_or_equal",
                        {"value": 2, "window_hours": 24}, 2, True),
        ConditionResult("triggers[7].conditions.all[1]", "status", "is", "open", "pending", False),))
    body = h.handoff_note(c["ticket"], c["enrichment"], esc, (fired,), (), MANIFEST, c["now"]).body
    assert body.startswith("@Fin Lead (Finance)")
    assert "Tier 1 → Finance (functional)" in body
    assert "`customer_contacts` greater than or equal `2` (window hours 24): seen `2`" in body
    assert "`status` is" not in body                                 # only conditions that held
    assert "After hours: the team is closed, on-call paged (`finance_pager`)" in body


def test_core_stays_pure():
    """No clock reads and no I/O imports in the handoff core."""
    import inspect

    import importlib
    import pkgutil

    import tiergate.plugin.core as core
    import tiergate.plugin.core.templates as templates
    parts = [importlib.import_module(f"tiergate.plugin.core.{m.name}")
             for m in pkgutil.iter_modules(core.__path__) if m.name.startswith("handoff")]
    assert len(parts) >= 8
    for module in (h, templates, *parts):
        assert module.__doc__ and len(inspect.getsource(module).splitlines()) < 500, module
        assert "tiergate.plugin.web" not in inspect.getsource(module)
        src = inspect.getsource(module)
        for banned in ("datetime.now", "utcnow", "time.time", "import requests", "import redis",
                       "import flask", "import rq", "import spacy", "open("):
            assert banned not in src, (module.__name__, banned)
