"""Write-back calls per ticket under a burst: parked decisions flushed through ``update_many``
(``jobs/batching.py``) against one ``PUT`` per ticket (``connector.apply``), same process, same
local Zendesk-compatible server, same decisions.

A burst of 5,000 tickets (quick: 500) each with one decision (tags, an internal note, a group
change). The server enforces the account limit (700/minute, Enterprise) on the batched run,
which fits inside it; the one-call-per-ticket baseline is measured without the limit (it would
take minutes at 700/minute) and its drain time at that limit is derived from its call count.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

LIMIT = 700


def _decisions(handle, n: int, now: datetime):
    from tiergate.connectors.zendesk import ticket_from_json
    from tiergate.plugin.core.model import Decision, Enrichment, Note, TicketUpdate

    out = []
    for i in range(n):
        raw = handle.seed_ticket(f"Outage {i}", "Everything is down, we cannot log in", group_id=101)
        ticket = ticket_from_json(raw)
        note = Note(body=f"Escalated: outage.\n\n[tiergate:bench{i:06d}]", public=False, fingerprint=f"bench{i:06d}")
        update = TicketUpdate(add_tags=("tg_outage", "tg_fired_outage"), notes=(note,), group_id=103)
        decision = Decision(ticket_id=ticket.id, at=now, manifest_version="bench", update=update)
        out.append((ticket, Enrichment(attention_score=80, sentiment=-0.5, sentiment_label="negative", complaint=True), decision))
    return out


def _runtime(settings, conn):
    from tiergate.jobs.runtime import Runtime
    from tiergate.connectors.zendesk import from_connection

    class Manifests:
        def current(self):
            raise RuntimeError("not needed")

    return Runtime(settings=settings, conn=conn, connector=from_connection(settings.connection()), manifests=Manifests())


def _writes(handle) -> int:
    return handle.count("PUT") + handle.count("POST") + handle.count("GET", "job_statuses")


def run(quick: bool) -> list[dict]:
    from redis import Redis

    from tiergate.localdesk.zendesk import start_server
    from tiergate.jobs import batching, followup
    from tiergate.runtime import keys
    from tiergate.runtime.config import Settings
    from tiergate.plugin.embedded import start_redis

    n = 500 if quick else 5000
    now = datetime.now(timezone.utc)
    redis_server = start_redis()
    conn = Redis.from_url(redis_server.url)
    rows = []
    original_after_write = followup.after_write
    followup.after_write = lambda *a, **k: None     # measure the write-back only
    try:
        # baseline: one PUT per ticket (apply reads the ticket first when tags change)
        desk = start_server(port=0)
        settings = Settings(redis_url=redis_server.url, webhook_secret="x", **desk.settings_overrides())
        rt = _runtime(settings, conn)
        items = _decisions(desk, n, now)
        base0, began = _writes(desk) + desk.count("GET", "/tickets/<int:ticket_id>"), time.perf_counter()
        for ticket, _e, decision in items:
            rt.connector.apply(ticket.id, decision.update, expected_updated_at=ticket.updated_at, delivery_id="b")
        base_calls = _writes(desk) + desk.count("GET", "/tickets/<int:ticket_id>") - base0
        base_seconds = time.perf_counter() - began
        desk.stop()

        # batched: park every decision, flush through update_many under a 700/minute server limit
        desk = start_server(port=0)
        settings = Settings(redis_url=redis_server.url, webhook_secret="x", **desk.settings_overrides())
        rt = _runtime(settings, conn)
        items = _decisions(desk, n, now)
        desk.set_knobs(rate_limit_per_minute=LIMIT)
        conn.delete(keys.batch_pending("zendesk"), keys.batch_inflight("zendesk"))
        for ticket, enrichment, decision in items:
            conn.hset(keys.batch_pending("zendesk"), ticket.id, json.dumps(
                {"ticket": ticket.to_dict(), "enrichment": enrichment.to_dict(), "decision": decision.to_dict(),
                 "delivery_id": "b", "reason": "bench", "parked_at": time.time()}))
        batch0, began = _writes(desk), time.perf_counter()
        written = 0
        while conn.hlen(keys.batch_pending("zendesk")):
            totals = batching.flush(rt, "zendesk", max_calls=1000)
            written += totals["written"]
        batch_calls = _writes(desk) - batch0
        batch_seconds = time.perf_counter() - began
        http_429 = desk.count(status=429)
        notes_ok = all(len(desk.state.comments[t.id]) == 2 for t, _e, _d in items)
        desk.stop()
    finally:
        followup.after_write = original_after_write
        redis_server.stop()
    per_ticket, base_per_ticket = batch_calls / n, base_calls / n
    rows.append({"name": f"write-back API calls per ticket, burst of {n} (update_many vs one PUT each)",
                 "value": round(per_ticket, 4), "unit": "calls/ticket", "baseline": round(base_per_ticket, 4),
                 "ratio": round(per_ticket / base_per_ticket, 4)})
    rows.append({"name": f"minutes of a {LIMIT}/min budget to write back {n} tickets",
                 "value": round(batch_calls / LIMIT, 3), "unit": "min", "baseline": round(base_calls / LIMIT, 3),
                 "ratio": round(batch_calls / base_calls, 4)})
    rows.append({"name": f"bulk write-back wall time for {n} tickets (server limited to {LIMIT}/min)",
                 "value": round(batch_seconds, 2), "unit": "s", "baseline": round(base_seconds, 2),
                 "ratio": round(batch_seconds / base_seconds, 3) if base_seconds else None})
    if not (notes_ok and written == n and http_429 == 0):
        raise AssertionError(f"bulk write-back incomplete: written={written}/{n} notes_ok={notes_ok} 429s={http_429}")
    return rows


if __name__ == "__main__":
    import sys

    for row in run(quick="--quick" in sys.argv):
        print(json.dumps(row))
