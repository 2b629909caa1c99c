"""``tiergate check``, ``tiergate schema`` and ``tiergate manifest log|record|revert|show``."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import click
import redis

from tiergate.runtime.cli_defaults import resolve_manifest
from tiergate.runtime.config import Settings
from tiergate.runtime.redact import redact_url
from tiergate.runtime.redis_conn import connect, uses_sentinel
from tiergate.runtime.manifest_store import (FileHistory, RedisHistory, default_history_path, in_force_view,
                                            record, revert)
from tiergate.plugin.core.errors import ConfigError, ManifestError
from tiergate.plugin.core.manifest import default_manifest_path, load_manifest, read_document
from tiergate.plugin.core.manifest_jsonschema import json_schema


def chosen_manifest(option: str | None, *, err: bool) -> str:
    """The manifest file a command reads (``resolve_manifest``), announced in one line."""
    choice = resolve_manifest(option)
    click.echo(choice.line("manifest"), err=err)
    return choice.value


def summary(m) -> str:
    enabled = sum(1 for t in m.triggers if t.enabled)
    label = f" ({m.label})" if m.label else ""
    parts = [f"{len(m.tiers)} tiers ({', '.join(m.tiers)})", f"{len(m.teams)} teams",
             f"{len(m.triggers)} triggers ({enabled} enabled)", f"{len(m.templates)} templates",
             f"{len(m.calendars)} calendars", f"{len(m.sla.policies)} SLA policies",
             f"{len(m.oncall.routes)} on-call routes", f"{len(m.keywords)} keyword tags"]
    return f"version {m.version}{label}: " + ", ".join(parts)


@click.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--manifest", "manifest_path", default=None, type=click.Path(dir_okay=False),
              help="The manifest to check (same as PATH; default: $TIERGATE_MANIFEST, else "
                   "./manifest.json, else the shipped one).")
@click.option("--against-desk", is_flag=True,
              help="Also look up every group, user, ticket-field and schedule id the manifest "
                   "references on the live desk (the credentials tiergate install uses).")
@click.option("--helpdesk", type=click.Choice(["zendesk", "zammad"]), default=None,
              help="The desk for --against-desk (default: the manifest's helpdesk.kind).")
def check(path, manifest_path, against_desk, helpdesk):
    """Validate a manifest: exit 0 and a summary, or exit 1 and every error (one a line).
    With --against-desk, also exit 1 naming each id the live desk does not know."""
    target = chosen_manifest(path or manifest_path, err=False)
    try:
        m = load_manifest(target)
    except ManifestError as exc:
        for p, msg in exc.errors:
            click.echo(f"{p or '(root)'}: {msg}")
        click.echo(f"{target}: {len(exc.errors)} error(s)", err=True)
        sys.exit(1)
    click.echo(f"{target}: OK, {summary(m)}")
    if against_desk:
        from tiergate.plugin.desk_check import DeskCheckError, check_against_desk
        from tiergate.runtime.config import Settings

        try:
            code = check_against_desk(m.to_dict(), helpdesk or m.helpdesk.kind, Settings.from_env(),
                                      click.echo)
        except DeskCheckError as exc:
            raise click.ClickException(str(exc)) from None
        sys.exit(code)


@click.command("schema")
def schema():
    """Print the manifest's JSON Schema (generated from the validating schemas)."""
    click.echo(json.dumps(json_schema(), indent=2))


@click.group("manifest")
def manifest():
    """Manifest versions, history and the effective document."""


def _history(redis_url: str | None, file: str | None):
    if file:
        return FileHistory(file)
    try:
        settings = Settings.from_env(**({"redis_url": redis_url} if redis_url else {}))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if redis_url or uses_sentinel(settings):                 # Sentinel when configured
        where = "the Sentinel master" if uses_sentinel(settings) else redact_url(redis_url)
        try:
            conn = connect(settings, socket_connect_timeout=1, socket_timeout=2)
            conn.ping()
            return RedisHistory(conn)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        except redis.RedisError as exc:
            raise click.ClickException(f"cannot reach Redis at {where}: {type(exc).__name__}") from None
    return FileHistory(default_history_path())


@manifest.command("log")
@click.option("--redis-url", envvar="REDIS_URL", default=None,
              help="Read the history from Redis (default: $REDIS_URL, else the local file).")
@click.option("--file", "file", default=None, type=click.Path(dir_okay=False),
              help="Read a local history file instead.")
@click.option("-n", "--limit", default=20, show_default=True, help="Newest entries to show.")
@click.option("--json", "as_json", is_flag=True, help="Entries as JSON.")
def log_cmd(redis_url, file, limit, as_json):
    """Show the manifests that were in force, newest (the one in force now) first, with diffs."""
    entries = in_force_view(_history(redis_url, file).entries())[:limit]
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    if not entries:
        click.echo("no manifest history yet")
        return
    for e in entries:
        label = f" ({e['label']})" if e.get("label") else ""
        when = (f"IN FORCE since {e.get('in_force_at')}" if e["in_force"] else
                f"superseded {e.get('superseded_at')} (in force from {e.get('in_force_at')})")
        click.echo(f"version {e['version']}{label}  {when}")
        if e.get("revert_of"):
            click.echo(f"  revert of {e['revert_of']}: version {e['version']} put back in force")
        click.echo(f"  author: {e.get('author') or '-'}  date: {e.get('date') or '-'}")
        if e.get("message"):
            click.echo(f"  {e['message']}")
        for line in e.get("diff") or ():
            click.echo(f"    {line}")
        click.echo("")


@manifest.command("record")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--redis-url", envvar="REDIS_URL", default=None)
@click.option("--file", "file", default=None, type=click.Path(dir_okay=False))
def record_cmd(path, redis_url, file):
    """Validate PATH and record it in the history (what a running store does on reload)."""
    path = chosen_manifest(path, err=True)
    try:
        m = load_manifest(path)
    except ManifestError as exc:
        for p, msg in exc.errors:
            click.echo(f"{p or '(root)'}: {msg}")
        sys.exit(1)
    entry = record(_history(redis_url, file), m, datetime.now(timezone.utc), str(path or ""))
    click.echo(f"recorded {m.version}" if entry else f"{m.version} is already the latest entry")


@manifest.command("revert")
@click.argument("version")
@click.option("--manifest", "path", default=None, type=click.Path(dir_okay=False),
              help="The manifest file to write VERSION into (default: $TIERGATE_MANIFEST, else "
                   "./manifest.json); running services load it on their next check.")
@click.option("--redis-url", envvar="REDIS_URL", default=None)
@click.option("--file", "file", default=None, type=click.Path(dir_okay=False))
def revert_cmd(version, path, redis_url, file):
    """Put VERSION (from ``tiergate manifest log``) back in force: write its document to the
    manifest file and record it in the history as a revert of the version it replaces."""
    target = chosen_manifest(path, err=True)
    if Path(target).resolve() == default_manifest_path().resolve():
        raise click.UsageError("the shipped manifest is never overwritten: give --manifest PATH or "
                               "set TIERGATE_MANIFEST to the site's manifest file")
    history = _history(redis_url, file)
    try:
        entry = revert(history, version, target, datetime.now(timezone.utc))
    except KeyError:
        raise click.ClickException(f"{version}: not in the manifest history (tiergate manifest log "
                                   "lists the versions)") from None
    except ManifestError as exc:
        lines = "\n".join(f"{p or '(root)'}: {msg}" for p, msg in exc.errors)
        raise click.ClickException(f"{version}: its document no longer validates:\n{lines}") from None
    except OSError as exc:
        raise click.ClickException(f"{target}: cannot write the manifest ({exc.strerror or exc})") from None
    if entry is None:
        click.echo(f"{version} is already in force; {target} holds its document")
        return
    click.echo(f"reverted to {version} (replacing {entry['revert_of']}); wrote {target}")


@manifest.command("show")
@click.option("--manifest", "path", default=None, type=click.Path(exists=True, dir_okay=False),
              help="The manifest or site file (default: $TIERGATE_MANIFEST, else "
                   "./manifest.json, else the shipped one).")
@click.option("--effective", is_flag=True,
              help="Print the document in force: a site file merged over the shipped defaults.")
def show_cmd(path, effective):
    """Print the manifest file as it is, or with --effective the merged document (JSON)."""
    target = chosen_manifest(path, err=True)
    if not effective:
        with open(target, encoding="utf-8") as fh:
            click.echo(fh.read(), nl=False)
        return
    try:
        doc = read_document(target)
    except ManifestError as exc:
        for p, msg in exc.errors:
            click.echo(f"{p or '(root)'}: {msg}", err=True)
        sys.exit(1)
    click.echo(json.dumps(doc, indent=2, ensure_ascii=False))


manifest.add_command(log_cmd)
manifest.add_command(record_cmd)
manifest.add_command(revert_cmd)
manifest.add_command(show_cmd)

__all__ = ["check", "schema", "manifest", "summary"]
