"""``tiergate report``, ``tiergate backfill`` and ``tiergate review sample|record|rules|postmortem``.

Bad input is a usage error naming the option (exit 2); an unreachable database or helpdesk is a
plain error (exit 1). Neither ever prints a traceback or a secret.
"""
from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from tiergate.connectors.registry import get_connector
from tiergate.nlp.history import history_record
from tiergate.plugin.analytics.log import DecisionLog
from tiergate.plugin.analytics.log_rows import manifest_tiers
from tiergate.plugin.analytics.log_schema import SchemaError
from tiergate.plugin.analytics.metrics import Period, parse_month
from tiergate.plugin.analytics.report import render, report_dict
from tiergate.plugin.analytics.review import draw, postmortem_markdown, record_review
from tiergate.plugin.analytics.verdicts import rules_judged, rules_markdown
from tiergate.plugin.core.errors import ConnectorError, ManifestError
from tiergate.plugin.core.manifest import default_manifest_path, load_manifest
from tiergate.plugin.core.model import parse_time
from tiergate.runtime.cli_defaults import NoDecisionLog, resolve_db
from tiergate.runtime.config import Settings
from tiergate.runtime.redact import redact_url


def _month(ctx, param, value: str | None) -> Period | None:
    if value is None:
        return None
    try:
        return parse_month(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _month_text(ctx, param, value: str | None) -> str | None:
    period = _month(ctx, param, value)
    return period.label if period else None


def _since(ctx, param, value: str | None) -> datetime | None:
    if value is None:
        return None

    try:
        return parse_time(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD) or ISO-8601 time",
                                 ctx=ctx, param=param) from None


def _yes_no(ctx, param, value: str | None) -> bool | None:
    if value is None:
        return None
    v = value.strip().lower()
    if v in ("yes", "y", "true", "1"):
        return True
    if v in ("no", "n", "false", "0"):
        return False
    raise click.BadParameter(f"{value!r}: answer yes or no", ctx=ctx, param=param)


def open_log(db: str | None, *, settings: Any = None):
    """The decision log at ``db`` (default: the settings' ``db_url``), checked reachable."""
    if settings is None:
        settings = Settings.from_env()
    url = db or settings.db_url
    try:
        log = DecisionLog(url, tier_of_group=manifest_tiers(settings))
    except (ArgumentError, ValueError) as exc:
        raise click.BadParameter(f"not a database URL ({exc})", param_hint="'--db'") from None
    except ImportError as exc:
        raise click.BadParameter(f"database driver missing: {exc}", param_hint="'--db'") from None
    try:
        log.ensure_schema()
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from None
    except SQLAlchemyError as exc:
        where = log.engine.url.render_as_string(hide_password=True)
        raise click.ClickException(f"database {where} unreachable: {str(getattr(exc, 'orig', exc)).strip()}") from None
    return log


def _manifest_seed() -> int | str:
    try:
        settings = Settings.from_env()
        return load_manifest(settings.manifest_path or default_manifest_path()).review.seed
    except Exception:
        return 0


DB_OPTION = click.option("--db", "db", metavar="URL", default=None,
                         help="Decision log database URL (default: TIERGATE_DB_URL or sqlite:///tiergate.sqlite).")


def _emit(text: str, output: Path | None) -> None:
    """Write a report to ``output``, or to standard output."""
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@click.command()
@click.option("--month", callback=_month, metavar="YYYY-MM", help="Only tickets opened in this month (default: all time).")
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "json"]), default="md", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="Write to this file instead of standard output.")
@click.option("--db", "db", metavar="URL", default=None,
              help="Decision log database URL (default: TIERGATE_DB_URL, else ./tiergate.sqlite, else "
                   "the last demo's log; never a new empty database).")
def report(month: Period | None, fmt: str, output: Path | None, db: str | None) -> None:
    """Escalation metrics for a month: rates, times, CSAT, breakdowns, review queue."""
    try:
        choice = resolve_db(db)
    except NoDecisionLog as exc:
        raise click.ClickException(str(exc)) from None
    if db is None:
        click.echo(f"decision log: {redact_url(choice.value)} ({choice.why})", err=True)
    log = open_log(choice.value)
    try:
        text = render(report_dict(log, month), fmt)
    finally:
        log.close()
    _emit(text, output)


@click.command()
@click.option("--since", callback=_since, metavar="DATE", help="Only tickets updated since (YYYY-MM-DD or ISO time).")
@click.option("--status", "statuses", multiple=True, help="Only tickets with this status (repeatable).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after this many tickets.")
@click.option("--history", "history", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="Also write the solved / closed tickets as training history for `tiergate train` "
                   "(JSON lines: customer comments and how far each was escalated).")
@DB_OPTION
def backfill(since: datetime | None, statuses: tuple[str, ...], limit: int | None, history: Path | None,
             db: str | None) -> None:
    """Read the helpdesk's ticket history through the connector into the decision log."""
    settings = Settings.from_env()
    manifest = None
    if history is not None:
        try:
            manifest = load_manifest(settings.manifest_path or default_manifest_path())
        except (ManifestError, OSError, ValueError) as exc:
            raise click.ClickException(f"manifest: {exc}") from None
    log = open_log(db, settings=settings)
    try:
        connector = get_connector(settings.connection())
    except (ValueError, ImportError) as exc:
        raise click.ClickException(f"helpdesk: {exc}") from None
    seen = 0
    levels: Counter[int] = Counter()
    now = datetime.now(timezone.utc)
    partial = history.with_name(history.name + ".partial") if history is not None else None
    out = open(partial, "w", encoding="utf-8") if partial is not None else None
    done = False
    try:
        for ticket in connector.iter_tickets(updated_since=since, status=list(statuses) or None):
            log.observe(ticket, now, helpdesk=getattr(connector, "name", settings.helpdesk))
            seen += 1
            if out is not None:
                record = history_record(ticket, manifest)
                if record is not None:
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                    levels[record["level"]] += 1
            if limit and seen >= limit:
                break
        done = True
    except ConnectorError as exc:
        raise click.ClickException(f"helpdesk stopped the backfill after {seen} tickets: "
                                   f"{type(exc).__name__}: {exc}") from None
    finally:
        log.close()
        if out is not None:     # the history file appears only whole
            out.close()
            if done:
                partial.replace(history)
            else:
                partial.unlink(missing_ok=True)
    click.echo(f"backfilled {seen} tickets from {settings.helpdesk}")
    if history is not None:
        counts = ", ".join(f"{v}: {c}" for v, c in sorted(levels.items())) or "none"
        click.echo(f"wrote {sum(levels.values())} resolved tickets to {history} (tickets per level: {counts})")


@click.group()
def review() -> None:
    """Post-escalation review: monthly sample, review records, postmortems."""


@review.command("sample")
@click.option("--month", required=True, callback=_month_text, metavar="YYYY-MM")
@click.option("--seed", default=None, help="Same seed, same sample (default: the manifest's review.seed, else 0).")
@click.option("--per-kind", type=click.IntRange(min=1, max=50), default=3, show_default=True,
              help="How many accepted and how many deferred escalations.")
@click.option("--dry-run", is_flag=True, help="Show the sample without queuing review records.")
@DB_OPTION
def review_sample(month: str, seed: str, per_kind: int, dry_run: bool, db: str | None) -> None:
    """Draw the month's review sample (accepted and deferred escalations) and queue it."""
    if seed is None:
        seed = str(_manifest_seed())
    log = open_log(db)
    try:
        chosen = draw(log, month, seed, per_kind, store=not dry_run)
    finally:
        log.close()
    if not chosen:
        click.echo(f"no accepted or deferred escalations in {month}")
        return
    for c in chosen:
        click.echo(f"{c.outcome:9} {c.facts.helpdesk} #{c.facts.ticket_id} {c.escalation.trigger or '-'} "
                   f"{c.escalation.from_tier or '?'} -> {c.escalation.to_tier}: {c.why}")
    click.echo(("sample only (dry run)" if dry_run else f"queued {len(chosen)} reviews") + f" for {month}, seed {seed}")


@review.command("record")
@click.argument("ticket_id", type=int)
@click.option("--helpdesk", default=None, help="Default: TIERGATE_HELPDESK or zendesk.")
@click.option("--month", callback=_month_text, metavar="YYYY-MM", help="Default: month of its first escalation.")
@click.option("--necessary", callback=_yes_no, metavar="yes|no", help="Was the escalation necessary?")
@click.option("--lower-tier", "lower_tier", callback=_yes_no, metavar="yes|no",
              help="Could a lower tier have resolved it?")
@click.option("--root-cause", type=click.Choice(
    ["knowledge_gap", "missing_kb_article", "product_bug", "process_gap", "misrouted",
     "tooling_or_permissions", "customer_request", "policy_exception", "other"]))
@click.option("--follow-up", type=click.Choice(["training", "knowledge_base", "product_bug", "none"]))
@click.option("--follow-up-status", type=click.Choice(["open", "in_progress", "done", "wont_do"]))
@click.option("--impact", default=None, help="Customer impact, in words.")
@click.option("--prevent", default=None, help="Preventive steps (one per line).")
@click.option("--notes", default=None)
@click.option("--reviewer", default=None)
@click.option("--level", type=click.IntRange(0, 9), default=None, metavar="0..9",
              help="How far it should have been escalated (0: not at all); `tiergate train` uses it as "
                   "the ticket's label.")
@DB_OPTION
def review_record(ticket_id: int, helpdesk: str | None, month: str | None, necessary: bool | None,
                  lower_tier: bool | None, root_cause: str | None, follow_up: str | None,
                  follow_up_status: str | None, impact: str | None, prevent: str | None,
                  notes: str | None, reviewer: str | None, level: int | None, db: str | None) -> None:
    """Record (or update) the review of one escalated ticket. Its verdict (--necessary, --lower-tier,
    --level) becomes a training label for `tiergate train`."""
    helpdesk = helpdesk or Settings.from_env().helpdesk
    log = open_log(db)
    try:
        row = record_review(log, helpdesk, ticket_id, month=month, necessary=necessary,
                            lower_tier_could_resolve=lower_tier, root_cause=root_cause, follow_up=follow_up,
                            follow_up_status=follow_up_status, customer_impact=impact,
                            preventive_steps=prevent, notes=notes, reviewer=reviewer, level=level)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'TICKET_ID'") from None
    finally:
        log.close()
    click.echo(f"reviewed {row.helpdesk} #{row.ticket_id} ({row.month}): root cause {row.root_cause or '-'}, "
               f"follow-up {row.follow_up or '-'} ({row.follow_up_status or '-'})")


@review.command("rules")
@click.option("--month", callback=_month_text, metavar="YYYY-MM", help="Only reviews of this month (default: all).")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@DB_OPTION
def review_rules(month: str | None, fmt: str, db: str | None) -> None:
    """Rules whose escalations reviewers judged unnecessary: escalations reviewed, judged
    unnecessary, share."""
    log = open_log(db)
    try:
        rows = rules_judged(log, [month] if month else None)
    finally:
        log.close()
    click.echo(json.dumps(rows, indent=2) if fmt == "json" else rules_markdown(rows), nl=fmt == "json")


@review.command("postmortem")
@click.argument("ticket_id", type=int)
@click.option("--helpdesk", default=None, help="Default: TIERGATE_HELPDESK or zendesk.")
@click.option("--month", callback=_month_text, metavar="YYYY-MM", help="Which month's review (default: latest).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None)
@DB_OPTION
def review_postmortem(ticket_id: int, helpdesk: str | None, month: str | None, output: Path | None,
                      db: str | None) -> None:
    """Export a Markdown postmortem: customer impact, evidence, timeline, preventive steps."""
    helpdesk = helpdesk or Settings.from_env().helpdesk
    log = open_log(db)
    try:
        text = postmortem_markdown(log, helpdesk, ticket_id, month)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'TICKET_ID'") from None
    finally:
        log.close()
    _emit(text, output)
