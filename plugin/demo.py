"""``tiergate demo``: the whole path on real parts, started and stopped in one command.

With nothing configured it starts an embedded Redis, the local helpdesk server, the receiver and a
worker process; installs the webhook + trigger through the helpdesk API (as an admin would); imports
the example tickets so the helpdesk delivers signed webhooks; waits for every job; prints what
the agents now see on each ticket, and shuts everything down.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
from rq.registry import StartedJobRegistry

from tiergate.connectors.registry import get_connector
from tiergate.jobs.queues import queue
from tiergate.jobs.state import load_summary
from tiergate.plugin import data, helpdesks
from tiergate.plugin.analytics.log import DecisionLog
from tiergate.plugin.analytics.report import summary_text
from tiergate.plugin.core.handoff import bot_ids
from tiergate.plugin.core.handoff_marker import has_internal_marker
from tiergate.plugin.core.manifest import default_manifest_path, load_manifest
from tiergate.plugin.embedded import serve_wsgi, start_redis, stop_process
from tiergate.plugin.examples import parse_now, read_examples
from tiergate.plugin.manifest_cli import chosen_manifest
from tiergate.plugin.web import create_app
from tiergate.runtime.cli_defaults import NoDecisionLog, demo_db_path, demo_db_url, resolve_db
from tiergate.runtime.config import Settings
from tiergate.runtime.redact import redact_url
from tiergate.runtime.redis_conn import connect


@dataclass
class DemoStack:
    """The running parts; ``close()`` (via the ExitStack) stops them in reverse order."""

    settings: Settings
    helpdesk: str
    server: Any = None
    receiver_url: str = ""
    worker: subprocess.Popen | None = None
    workdir: str = ""
    exits: ExitStack = field(default_factory=ExitStack)

    def close(self) -> None:
        self.exits.close()


def start_stack(helpdesk: str, *, quiet: bool, now: datetime | None = None,
                db_url: str | None = None, manifest_path: str | None = None) -> DemoStack:
    """The demo's parts; the decision log at ``db_url`` (default: ``TIERGATE_DB_URL``, else a
    file in the stack's own temporary folder), the rules of ``manifest_path`` (default:
    ``TIERGATE_MANIFEST``, else the shipped manifest)."""
    workdir = tempfile.mkdtemp(prefix="tiergate-demo-")
    env_redis = os.environ.get("REDIS_URL")
    stack = DemoStack(settings=Settings.from_env(), helpdesk=helpdesk, workdir=workdir)
    if env_redis:
        redis_url = env_redis
    else:
        redis = start_redis()
        stack.exits.callback(redis.stop)
        redis_url = redis.url

    desk = helpdesks.local_or_configured(helpdesk)
    stack.exits.callback(desk.stop)
    stack.server = desk


    secret = secrets.token_hex(24)
    admin_token = os.environ.get("TIERGATE_ADMIN_TOKEN") or secrets.token_urlsafe(16)
    settings = Settings.from_env(
        redis_url=redis_url, helpdesk=helpdesk, webhook_secret=secret, admin_token=admin_token,
        db_url=db_url or os.environ.get("TIERGATE_DB_URL") or f"sqlite:///{workdir}/tiergate-demo.sqlite",
        **({"manifest_path": manifest_path} if manifest_path else {}), **desk.settings_overrides())
    stack.settings = settings
    http = serve_wsgi(create_app(settings))
    stack.exits.callback(http.shutdown)
    stack.receiver_url = f"http://127.0.0.1:{http.server_port}"
    helpdesks.install(desk, helpdesk, stack.receiver_url, secret)

    env = {**os.environ, **_settings_env(settings)}
    if now is not None:
        env["TIERGATE_NOW"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    log = open(Path(workdir) / "worker.log", "wb")
    stack.exits.callback(log.close)
    stack.worker = subprocess.Popen(
        [sys.executable, "-m", "tiergate.plugin.cli", "worker", "--name", f"demo-{os.getpid()}",
         "--log-level", "WARNING"], env=env, stdout=log, stderr=subprocess.STDOUT)
    stack.exits.callback(stop_process, stack.worker)
    return stack


def _settings_env(settings: Settings) -> dict[str, str]:
    env = {}
    for name, var in Settings.ENV.items():
        value = getattr(settings, name)
        if value is not None:
            env[var] = str(value)
    return env


def wait_for_jobs(stack: DemoStack, ticket_ids: list[int], timeout: float) -> None:
    """Until every ticket has a decision and no job is queued, started or scheduled soon."""
    conn = connect(stack.settings)
    q = queue(conn, stack.settings)
    started = StartedJobRegistry(queue=q)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack.worker is not None and stack.worker.poll() is not None:
            raise click.ClickException(
                f"the worker exited with {stack.worker.returncode}; see {stack.workdir}/worker.log")
        done = all(load_summary(conn, stack.helpdesk, t) for t in ticket_ids)
        if done and q.count == 0 and started.count == 0:
            return
        time.sleep(0.1)
    raise click.ClickException(f"timed out after {timeout:.0f}s waiting for jobs; see {stack.workdir}/worker.log")


def collect(stack: DemoStack, ticket_ids: list[int]) -> dict[str, Any]:
    conn = connect(stack.settings)
    connector = get_connector(stack.settings.connection())
    bots = bot_ids(load_manifest(stack.settings.manifest_path or default_manifest_path()))
    rows = []
    for ticket_id in ticket_ids:
        ticket = connector.fetch_ticket(ticket_id)
        summary = load_summary(conn, stack.helpdesk, ticket_id) or {}
        public = [c for c in ticket.comments if c.public]
        rows.append({
            "id": ticket.id, "subject": ticket.subject, "tags": sorted(ticket.tags),
            "internal_notes": [c.body for c in ticket.comments if not c.public],
            # what the customer sees from tiergate, and whether any public comment (by anyone)
            # carries an internal marker ([tiergate:…], [tiergate-commitment:…], ...)
            "public_comments": [c.body for c in public if c.author_id in bots],
            "public_marker": any(has_internal_marker(c.body) for c in public),
            "group_id": ticket.group_id, "assignee_id": ticket.assignee_id, "priority": ticket.priority,
            "attention_score": summary.get("attention_score"),
            "risk_tags": sorted({r["tag"] for r in summary.get("risk_tags", [])}),
            "fired": summary.get("fired", []),
            "escalation": summary.get("escalation"),
            "reasons": summary.get("reasons", []) + [
                f"{s['signal']}: {s['points']:+.0f} ({s['detail']})" for s in summary.get("signals", [])],
        })
    escalated = [r for r in rows if r["escalation"]]
    touched = [r for r in rows if r["internal_notes"] or r["fired"]]
    return {"tickets": rows, "summary": {
        "helpdesk": stack.helpdesk, "tickets": len(rows), "touched": len(touched),
        "escalated": len(escalated),
        "escalation_rate": round(len(escalated) / len(rows), 3) if rows else 0.0,
    }}


def print_table(result: dict[str, Any]) -> None:
    for row in result["tickets"]:
        click.secho(f"#{row['id']} {row['subject']}", bold=True)
        click.echo(f"  attention {row['attention_score']}  priority {row['priority']}  "
                   f"group {row['group_id']}  assignee {row['assignee_id']}")
        click.echo(f"  tags: {', '.join(row['tags']) or '-'}")
        for reason in row["reasons"]:
            click.echo(f"  - {reason}")
        for note in row["internal_notes"]:
            click.echo("  note: " + note.replace("\n", "\n        "))
        click.echo()
    s = result["summary"]
    click.echo(f"{s['tickets']} tickets, {s['touched']} acted on, {s['escalated']} escalated "
               f"({s['escalation_rate']:.0%}) on {s['helpdesk']}")


@click.command()
@click.option("--tickets", "tickets_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Example tickets (JSON lines); default: the embedded examples.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document and nothing else.")
@click.option("--helpdesk", type=click.Choice(["zendesk", "zammad"]), default="zendesk", show_default=True)
@click.option("--timeout", type=float, default=180.0, show_default=True, help="Seconds to wait for the jobs.")
@click.option("--keep", is_flag=True, help="Keep everything running afterwards (dashboard), until Ctrl-C.")
@click.option("--now", "now_text", default=None,
              help="Decide as if it were this instant (ISO-8601, e.g. 2026-12-05T22:30:00Z): "
                   "ticket ages count back from it and the worker's clock stands still at it.")
@click.option("--manifest", "manifest_path", default=None, type=click.Path(dir_okay=False),
              help="The rules (default: $TIERGATE_MANIFEST, else ./manifest.json, else the shipped one).")
def demo(tickets_path: Path | None, as_json: bool, helpdesk: str, timeout: float, keep: bool,
         now_text: str | None, manifest_path: str | None) -> None:
    """Run the whole path on the example tickets and print what agents now see."""
    fixed = parse_now(now_text) if now_text else None
    examples = read_examples(tickets_path or data.path("tickets.jsonl"))
    rules = chosen_manifest(manifest_path, err=as_json)
    log_choice = demo_db_url()
    fresh_demo_log(log_choice.value)
    click.echo(f"decision log: {redact_url(log_choice.value)} ({log_choice.why})", err=as_json)
    stack = start_stack(helpdesk, quiet=as_json, now=fixed, db_url=log_choice.value,
                        manifest_path=rules)
    try:
        now = fixed or datetime.now(timezone.utc)
        ticket_ids = [stack.server.import_example(example, now) for example in examples]
        wait_for_jobs(stack, ticket_ids, timeout)
        result = collect(stack, ticket_ids)
        result["summary"]["dashboard"] = f"{stack.receiver_url}/dashboard"
        if as_json:
            click.echo(json.dumps(result, indent=2))
        else:
            print_table(result)
            _print_report(stack, keep)
        if keep:
            _wait_for_interrupt()
    finally:
        stack.close()


def fresh_demo_log(db_url: str) -> None:
    """Each demo run starts its own log: the previous demo's file is removed (only that file;
    a database named by ``TIERGATE_DB_URL`` is left as it is)."""
    own = demo_db_path()
    if db_url == f"sqlite:///{own}":
        own.parent.mkdir(parents=True, exist_ok=True)
        own.unlink(missing_ok=True)


def _wait_for_interrupt() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def _print_report(stack: DemoStack, keep: bool) -> None:
    click.echo()
    click.echo(summary_text(DecisionLog.from_settings(stack.settings)))
    shown = redact_url(stack.settings.db_url)
    try:
        by_default = resolve_db(None).value == stack.settings.db_url
    except NoDecisionLog:
        by_default = False
    click.echo(f"decision log: {shown}  ("
               + ("tiergate report reads it by default" if by_default else f"tiergate report --db {shown}") + ")")
    if keep:
        click.echo(f"dashboard: {stack.receiver_url}/dashboard  admin token: {stack.settings.admin_token}  "
                   "(Ctrl-C stops everything)")
    else:
        click.echo(f"dashboard: served at {stack.receiver_url}/dashboard while the demo runs; "
                   "rerun with --keep to browse it")
