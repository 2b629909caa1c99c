"""The attention score and the risk tags written into the manifest's ticket fields with each
decision: only inside a write the decision makes anyway, through ``apply`` and through the burst
path's ``update_many`` alike, on the local Zendesk."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from tiergate.jobs import batching
from tiergate.jobs.ticket_decision import with_score_fields
from tiergate.plugin.core.manifest import load_manifest
from tiergate.plugin.core.model import Decision, Enrichment, Note, RiskTag, TicketUpdate

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=timezone.utc)
ENRICHMENT = Enrichment(attention_score=83, sentiment=-0.6, sentiment_label="negative", complaint=True,
                        risk_tags=(RiskTag("security", "logins from abroad"), RiskTag("churn", "cancel"),
                                   RiskTag("security", "api key", 1)))


def manifest(**helpdesk):
    site = json.loads((REPO / "manifest.json").read_text())
    site["helpdesk"].update(helpdesk)
    return load_manifest(site)


def decision(update: TicketUpdate, ticket_id: int = 1) -> Decision:
    return Decision(ticket_id=ticket_id, at=NOW, manifest_version="v", update=update)


def test_fields_ride_only_in_a_write_the_decision_makes_anyway():
    m = manifest(score_field="9001", risk_field="9002")
    written = with_score_fields(decision(TicketUpdate(group_id=102, custom_fields={"7": "x"})), ENRICHMENT, m)
    assert dict(written.update.custom_fields) == {"7": "x", "9001": 83, "9002": "churn security"}
    assert written.update.group_id == 102
    assert with_score_fields(decision(TicketUpdate()), ENRICHMENT, m).update.is_empty()
    cleanup = TicketUpdate(remove_tags=("tg_fired_old",))
    assert with_score_fields(decision(cleanup), ENRICHMENT, m).update == cleanup
    plain = decision(TicketUpdate(add_tags=("x",)))
    assert with_score_fields(plain, ENRICHMENT, manifest()) is plain
    only_score = with_score_fields(plain, ENRICHMENT, manifest(score_field="9001"))
    assert dict(only_score.update.custom_fields) == {"9001": 83}


def test_apply_and_update_many_carry_the_fields_in_their_one_call(zendesk_server, zendesk_connector):
    m = manifest(score_field="9001", risk_field="9002")
    one = zendesk_server.seed_ticket("one", "x")["id"]
    burst = [zendesk_server.seed_ticket(f"b{i}", "x") for i in range(2)]
    zendesk_server.state.stats.clear()

    d = with_score_fields(decision(TicketUpdate(notes=(Note("hand-off"),), group_id=102), one), ENRICHMENT, m)
    zendesk_connector.apply(one, d.update, expected_updated_at=None, delivery_id="d1")
    assert zendesk_server.count("PUT", "tickets") == 1
    fields = {str(f["id"]): f["value"] for f in zendesk_server.state.ticket(one)["custom_fields"]}
    assert fields == {"9001": 83, "9002": "churn security"}

    zendesk_server.state.stats.clear()
    entries = {t["id"]: {"ticket": {"updated_at": t["updated_at"]}, "decision": with_score_fields(
        decision(TicketUpdate(add_tags=("bulk",)), t["id"]), ENRICHMENT, m).to_dict()} for t in burst}
    assert set(batching.write_batch(zendesk_connector, entries).values()) == {"ok"}
    assert zendesk_server.count("PUT") == 1 == zendesk_server.count("PUT", "update_many")
    for t in burst:
        fields = {str(f["id"]): f["value"] for f in zendesk_server.state.ticket(t["id"])["custom_fields"]}
        assert fields == {"9001": 83, "9002": "churn security"}
