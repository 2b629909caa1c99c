"""End to end on a desk whose groups have other ids than the demo's: ``tiergate install`` maps the
manifest's tiers and teams by name and writes the ids into the site file, then signed webhooks →
the receiver → a real RQ worker → write-back: no job fails, escalated tickets land in the mapped
groups, and the one update per decision also carries the attention score and the risk tags."""
from __future__ import annotations

import json
import secrets
from datetime import datetime, timezone
from pathlib import Path

from click.testing import CliRunner
from redis import Redis
from rq.registry import FailedJobRegistry

from fixtures_stack import Stack
from test_desk_ids import shift_groups, site_copy, zendesk_env
from tiergate.jobs.state import load_summary
from tiergate.plugin import install as inst
from tiergate.plugin.manifest_cli import check

EXAMPLES = {row["external_id"]: row for row in map(
    json.loads, (Path(__file__).resolve().parent.parent / "examples" / "tickets.jsonl").read_text().splitlines())}
RISKY = ("demo-outage", "demo-login", "demo-legal")


def mapped_stack(redis_url: str, tmp_path: Path, *, write_scores: bool):
    """A local Zendesk with shifted group ids, tiergate installed into it by the CLI (mapping by
    name into a site file), the receiver on a socket and the runtime the worker uses."""
    from tiergate.jobs.runtime import build_runtime
    from tiergate.plugin import helpdesks
    from tiergate.plugin.embedded import serve_wsgi
    from tiergate.plugin.web import create_app
    from tiergate.runtime.config import Settings

    tmp_path.mkdir(parents=True, exist_ok=True)
    desk = helpdesks.LocalZendesk.start()
    mapping = shift_groups(desk.handle)
    site = site_copy(tmp_path)
    env = zendesk_env(desk.handle)
    unknown = CliRunner().invoke(check, [str(site), "--against-desk"], env=env)
    assert unknown.exit_code == 1 and "tiers.tier_1.group_id 101: no such group" in unknown.output
    secret = secrets.token_hex(16)
    settings = Settings.from_env({}, redis_url=redis_url, helpdesk="zendesk", webhook_secret=secret,
                                 admin_token="test-admin-token", manifest_path=str(site),
                                 db_url=f"sqlite:///{tmp_path}/log.sqlite", **desk.settings_overrides())
    http = serve_wsgi(create_app(settings))
    receiver = f"http://127.0.0.1:{http.server_port}"
    res = CliRunner().invoke(inst.install, ["--receiver-url", receiver, "--record", str(tmp_path / "r.json"),
                                            "--manifest", str(site), "--secret", secret], env=env)
    assert res.exit_code == 0 and "arrived and verified" in res.output, res.output
    assert CliRunner().invoke(check, [str(site), "--against-desk"], env=env).exit_code == 0
    doc = json.loads(site.read_text())
    if not write_scores:
        for key in ("score_field", "risk_field"):
            doc["helpdesk"].pop(key)
        site.write_text(json.dumps(doc, indent=2))
    stack = Stack(desk=desk, settings=settings, conn=Redis.from_url(redis_url), receiver_url=receiver,
                  runtime=build_runtime(settings))

    def close():
        http.shutdown()
        desk.stop()

    return stack, mapping, doc["helpdesk"], close


def run_examples(stack: Stack, mapping: dict[int, int]) -> dict[str, tuple[int, int]]:
    """Each risky example through the whole path, one at a time: external id -> (ticket id,
    ticket update calls its decision made)."""
    out = {}
    for ext in RISKY:
        example = dict(EXAMPLES[ext], group_id=mapping[EXAMPLES[ext]["group_id"]])
        before = stack.desk.handle.count("PUT", "tickets")
        ticket_id = stack.import_and_wait_for_job(example, datetime.now(timezone.utc))
        stack.work()
        out[ext] = (ticket_id, stack.desk.handle.count("PUT", "tickets") - before)
    return out


def test_mapped_desk_runs_demo_traffic_and_writes_score_and_risk_fields(redis_conn, redis_url, tmp_path):
    baseline_stack, mapping, _, close = mapped_stack(redis_url, tmp_path / "baseline", write_scores=False)
    try:
        baseline = run_examples(baseline_stack, mapping)
        assert all(ticket.custom_fields == {} for ticket in
                   (baseline_stack.connector().fetch_ticket(t) for t, _ in baseline.values()))
    finally:
        close()
    redis_conn.flushall()

    stack, mapping, helpdesk, close = mapped_stack(redis_url, tmp_path / "scored", write_scores=True)
    try:
        assert helpdesk["score_field"].isdigit() and helpdesk["risk_field"].isdigit()
        results = run_examples(stack, mapping)
        assert FailedJobRegistry(queue=stack.queue).count == 0
        for ext, (ticket_id, updates) in results.items():
            ticket = stack.connector().fetch_ticket(ticket_id)
            assert ticket.group_id in mapping.values(), (ext, ticket.group_id)
            assert ticket.group_id != mapping[EXAMPLES[ext]["group_id"]], "escalated tickets change group"
            summary = load_summary(stack.conn, "zendesk", ticket_id)
            tags = sorted({r["tag"] for r in summary["risk_tags"]})
            assert tags, ext
            assert ticket.custom_fields[helpdesk["risk_field"]] == " ".join(tags)
            score = ticket.custom_fields[helpdesk["score_field"]]
            assert isinstance(score, int) and 0 < score <= 100
            assert score == round(summary["attention_score"])
            # the fields ride in the update the decision makes anyway
            assert updates == baseline[ext][1], (ext, updates, baseline[ext][1])
            assert updates >= 1
        print("ticket update calls per decision, baseline vs with fields:",
              {ext: (baseline[ext][1], results[ext][1]) for ext in RISKY})
    finally:
        close()
