"""``tiergate install`` / ``uninstall``: set tiergate up in the desk an admin runs.

``install --helpdesk zendesk --receiver-url https://RECEIVER`` creates, or updates when one with the same
name exists (idempotent), through the desk's API:
- the webhook ``tiergate`` pointing at ``<url>/webhooks/zendesk`` with a signing secret (the one
  given by ``--secret`` / ``TIERGATE_WEBHOOK_SECRET``, else Zendesk's own). The secret is always
  read back (``GET /api/v2/webhooks/{id}/signing_secret``) and the report says which one is in
  force: that Zendesk honours a ``signing_secret`` sent on create is unconfirmed, and an existing
  webhook keeps its secret;
- the triggers that call it on ticket created / customer comment / group changed, each posting
  ``{"ticket_id", "tiergate_trigger", "updated_at"}`` (``TRIGGER_BODY``), and on ticket solved /
  reopened / rated (``install_outcomes``);
- the custom ticket fields tiergate writes with each decision (attention score, risk tags);
then sends a signed test delivery through ``POST /api/v2/webhooks/test`` and reports whether the
receiver verified it (see ``TEST_PAYLOAD``). Every object it *created* is recorded in a JSON file
(``--record``, default ``./tiergate-install.json``); ``uninstall`` deletes exactly those and leaves
objects install only updated. Before that, the manifest's tiers and teams are mapped to the desk's
groups by name (``--create-groups`` creates the missing ones), and the group and field ids are
written into the site manifest (``plugin/install_manifest.py``). ``--dry-run`` prints each request
(method, path, JSON with secrets and tokens shown as ``***``) and sends none; its only look-up is
the desk's group list for the mapping, when credentials are given (otherwise it plans as if
nothing existed).

For Zammad (``--helpdesk zammad``) the same is done with ``/api/v1/webhooks`` (HMAC-SHA1 signature
token) and ``/api/v1/triggers``; Zammad has no test-delivery endpoint, so the report says so.

``import-sla`` (``plugin/sla_import.py``) reads the desk's SLA policies through the same client.

Plain ``requests`` is used for every call: ``--dry-run`` must show the exact requests, and zenpy's
local-server switch (``ZENPY_FORCE_NETLOC``) is process-global.
"""
from __future__ import annotations

import json
import os
import secrets as _secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

import click
import requests

from tiergate.connectors.zammad_triggers import default_triggers, outcome_triggers
from tiergate.plugin.install_checks import check_receiver_url, endpoint_url, masked
from tiergate.plugin.install_manifest import load_target, map_groups, write_ids
from tiergate.runtime.cli_defaults import resolve_manifest
from tiergate.plugin.install_outcomes import install_zendesk_outcome_triggers
from tiergate.runtime.config import Settings

WEBHOOK_NAME = "tiergate"
# The trigger's name and the ticket's update stamp make each invocation's signed body unique, so
# two triggers (or one trigger on two updates) firing in the same second are not taken for a replay.
TRIGGER_BODY = ('{"ticket_id":"{{ticket.id}}","tiergate_trigger":"%s",'
                '"updated_at":"{{ticket.updated_at_with_timestamp}}"}')
DEFAULT_RECORD = "tiergate-install.json"
# The receiver answers a signed test delivery with 200 "verified" and queues nothing.
TEST_PAYLOAD = '{"tiergate_test":true}'

ZENDESK_TRIGGERS: tuple[tuple[str, list[dict[str, Any]]], ...] = (
    ("tiergate: ticket created", [{"field": "update_type", "operator": "is", "value": "Create"}]),
    ("tiergate: customer comment", [{"field": "update_type", "operator": "is", "value": "Change"},
                                    {"field": "role", "operator": "is", "value": "end_user"},
                                    {"field": "comment_is_public", "operator": "is", "value": "true"}]),
    ("tiergate: group changed", [{"field": "update_type", "operator": "is", "value": "Change"},
                                 {"field": "group_id", "operator": "changed", "value": None}]),
    ("tiergate: handoff comment", [{"field": "update_type", "operator": "is", "value": "Change"},
                                   {"field": "comment_includes_word", "operator": "includes",
                                    "value": "#handoff"}]),
)
ZENDESK_FIELDS: tuple[dict[str, Any], ...] = (
    {"type": "integer", "title": "tiergate attention score",
     "description": "0-100, written by tiergate: how urgently this ticket needs a human."},
    {"type": "text", "title": "tiergate risk tags",
     "description": "Written by tiergate with each decision: the conversation's risk tags, space-separated."},
)


def trigger_body(title: str) -> str:
    """The webhook body of the decision trigger ``title`` (e.g. "tiergate: group changed")."""
    return TRIGGER_BODY % title.split(":", 1)[-1].strip().replace(" ", "_")


class InstallError(click.ClickException):
    """A desk call failed; the message names the request and the desk's answer."""


# -- HTTP with dry-run ---------------------------------------------------------------------------
@dataclass
class Desk:
    """One desk's API: ``call`` sends (or, in dry-run, only prints) a request."""

    base_url: str
    headers: dict[str, str]
    auth: tuple[str, str] | None = None
    dry_run: bool = False
    echo: Callable[[str], None] = click.echo
    sent: list[tuple[str, str, Any]] = field(default_factory=list)
    _fake_ids: int = 0

    def call(self, method: str, path: str, body: Any = None, *, ok: tuple[int, ...] = ()) -> Any:
        self.sent.append((method, path, body))
        if self.dry_run:
            self.echo(f"{method} {path}" + (f" {json.dumps(masked(body), sort_keys=True)}" if body is not None else ""))
            return None
        try:
            r = requests.request(method, self.base_url + path, json=body, headers=self.headers, auth=self.auth,
                                 timeout=30)
        except requests.RequestException as exc:
            raise InstallError(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        if r.status_code >= 400 and r.status_code not in ok:
            raise InstallError(f"{method} {path} → {r.status_code}: {r.text[:300]}")
        if r.status_code in ok or not r.content:
            return None
        try:
            return r.json()
        except ValueError:
            raise InstallError(f"{method} {path} → {r.status_code}: not JSON") from None

    def fake_id(self, kind: str) -> str:
        self._fake_ids += 1
        return f"<new {kind} {self._fake_ids}>"


def zendesk_desk(settings: Settings, *, dry_run: bool = False, echo: Callable[[str], None] = click.echo) -> Desk:
    if dry_run and not (settings.zendesk_email and settings.zendesk_api_token):
        return Desk(_planned_base(settings.zendesk_scheme, settings.zendesk_netloc or (
            f"{settings.zendesk_subdomain}.zendesk.com" if settings.zendesk_subdomain else None)),
            {"Accept": "application/json"}, dry_run=True, echo=echo)
    if not (settings.zendesk_email and settings.zendesk_api_token):
        raise click.UsageError("ZENDESK_EMAIL and ZENDESK_API_TOKEN are required")
    netloc = settings.zendesk_netloc or (f"{settings.zendesk_subdomain}.zendesk.com"
                                         if settings.zendesk_subdomain else None)
    if not netloc:
        raise click.UsageError("ZENDESK_SUBDOMAIN (or ZENPY_FORCE_NETLOC) is required")
    scheme = settings.zendesk_scheme or "https"
    return Desk(f"{scheme}://{netloc}", {"Accept": "application/json"},
                auth=(f"{settings.zendesk_email}/token", settings.zendesk_api_token), dry_run=dry_run, echo=echo)


def zammad_desk(settings: Settings, *, dry_run: bool = False, echo: Callable[[str], None] = click.echo) -> Desk:
    url, token = settings.zammad_url, settings.zammad_api_token
    if dry_run and not (url and token):
        return Desk((url or "<ZAMMAD_URL>").rstrip("/"), {"Accept": "application/json"}, dry_run=True, echo=echo)
    if not url or not token:
        raise click.UsageError("ZAMMAD_URL and ZAMMAD_TOKEN are required")
    return Desk(url.rstrip("/"), {"Accept": "application/json", "Authorization": f"Token token={token}",
                                  "X-Zammad-Suppress-Notifications": "true"}, dry_run=dry_run, echo=echo)


def _planned_base(scheme: str | None, netloc: str | None) -> str:
    """The desk's base URL for a dry run without credentials (a placeholder where unset)."""
    return f"{scheme or 'https'}://{netloc or '<ZENDESK_SUBDOMAIN>.zendesk.com'}"


def _pages(desk: Desk, path: str, key: str) -> list[dict]:
    """Every object of a Zendesk list, offset (``next_page``) or cursor (``meta.has_more`` +
    ``links.next``) paginated; nothing in dry-run."""
    out: list[dict] = []
    next_path: str | None = path
    while next_path:
        data = desk.call("GET", next_path)
        if data is None:
            return out
        out.extend(data.get(key) or [])
        nxt = data.get("next_page")
        if not nxt and (data.get("meta") or {}).get("has_more"):      # cursor pagination (webhooks)
            nxt = (data.get("links") or {}).get("next")
        next_path = nxt[len(desk.base_url):] if nxt and nxt.startswith(desk.base_url) else None
    return out


# -- the record file ---------------------------------------------------------------------------
def load_record(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise click.UsageError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise click.UsageError(f"{path}: must hold a JSON object")
    return data


def save_record(path: Path, record: Mapping[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o600)          # it can hold nothing secret, but the ids are the admin's business
    tmp.replace(path)


# -- install: Zendesk ------------------------------------------------------------------------------
@dataclass
class Report:
    created: dict[str, list[Any]] = field(default_factory=dict)
    updated: dict[str, list[Any]] = field(default_factory=dict)
    secret: str | None = None
    secret_source: str = ""
    test: dict[str, Any] | None = None
    field_ids: dict[str, Any] = field(default_factory=dict)    # ticket field title -> id

    def add(self, kind: str, oid: Any, created: bool) -> None:
        (self.created if created else self.updated).setdefault(kind, []).append(oid)


def _upsert(desk: Desk, report: Report, kind: str, existing: dict | None, path: str, key: str,
            body: dict, *, update_method: str = "PUT", wrap: bool = True) -> Any:
    payload = {key: body} if wrap else body
    if existing is not None:
        desk.call(update_method, f"{path}/{existing['id']}", payload)
        report.add(kind, existing["id"], created=False)
        return existing["id"]
    data = desk.call("POST", path, payload)
    oid = ((data or {}).get(key, data) or {}).get("id") if data else desk.fake_id(key)
    report.add(kind, oid, created=True)
    return oid


def install_zendesk(desk: Desk, receiver: str, *, secret: str | None, report: Report | None = None) -> Report:
    report = report or Report()
    endpoint = endpoint_url(receiver, "zendesk")
    hooks = [h for h in _pages(desk, "/api/v2/webhooks", "webhooks") if h.get("name") == WEBHOOK_NAME]
    hook_body: dict[str, Any] = {"name": WEBHOOK_NAME, "status": "active", "endpoint": endpoint,
                                 "http_method": "POST", "request_format": "json",
                                 "subscriptions": ["conditional_ticket_events"],
                                 "description": "tiergate escalation guard (created by tiergate install)"}
    if hooks:
        hook_id = _upsert(desk, report, "webhooks", hooks[0], "/api/v2/webhooks", "webhook", hook_body)
        if secret:
            report.secret_source = "kept: Zendesk cannot set an existing webhook's secret; read back"
    else:
        if secret:
            hook_body["signing_secret"] = {"algorithm": "sha256", "secret": secret}
        hook_id = _upsert(desk, report, "webhooks", None, "/api/v2/webhooks", "webhook", hook_body)
    data = desk.call("GET", f"/api/v2/webhooks/{hook_id}/signing_secret")
    if data:
        report.secret = data["signing_secret"]["secret"]
        report.secret_source = report.secret_source or ("given" if secret and report.secret == secret
                                                        else "generated by Zendesk")
    triggers = {t.get("title"): t for t in _pages(desk, "/api/v2/triggers", "triggers")}
    for title, conditions in ZENDESK_TRIGGERS:
        _upsert(desk, report, "triggers", triggers.get(title), "/api/v2/triggers", "trigger", {
            "title": title, "active": True, "description": "Notifies tiergate (created by tiergate install)",
            "conditions": {"all": conditions, "any": []},
            "actions": [{"field": "notification_webhook", "value": [hook_id, trigger_body(title)]}]})
    install_zendesk_outcome_triggers(desk, report, hook_id, triggers, _upsert)
    fields = {f.get("title"): f for f in _pages(desk, "/api/v2/ticket_fields", "ticket_fields")}
    for spec in ZENDESK_FIELDS:
        report.field_ids[spec["title"]] = _upsert(desk, report, "ticket_fields", fields.get(spec["title"]),
                                                  "/api/v2/ticket_fields", "ticket_field", dict(spec))
    result = desk.call("POST", f"/api/v2/webhooks/test?webhook_id={hook_id}", {
        "webhook_id": hook_id, "request": {"endpoint": endpoint, "http_method": "POST", "request_format": "json",
                                           "payload": TEST_PAYLOAD}})
    if result is not None:
        report.test = result.get("response") or {}
    return report


def delivery_outcome(response: Mapping[str, Any] | None) -> tuple[int, str]:
    """(status, first 300 characters of the body) the receiver gave Zendesk's test delivery, from
    the ``response`` of ``POST /api/v2/webhooks/test``: ``{"headers": [{"key", "value"}],
    "status_code": N, "payload": "<body>"}``; (0, "") without one."""
    response = response or {}
    try:
        status = int(response.get("status_code") or 0)
    except (TypeError, ValueError):
        status = 0
    return status, str(response.get("payload") or "")[:300]


# -- install: Zammad ---------------------------------------------------------------------------
def install_zammad(desk: Desk, receiver: str, *, secret: str | None, report: Report | None = None) -> Report:
    report = report or Report()
    endpoint = endpoint_url(receiver, "zammad")
    existing = [h for h in (desk.call("GET", "/api/v1/webhooks") or []) if h.get("name") == WEBHOOK_NAME]
    token = secret or (existing[0].get("signature_token") if existing else None) or _secrets.token_hex(20)
    body = {"name": WEBHOOK_NAME, "endpoint": endpoint, "signature_token": token, "ssl_verify": True,
            "active": True, "note": "tiergate escalation guard (created by tiergate install)"}
    hook_id = _upsert(desk, report, "webhooks", existing[0] if existing else None, "/api/v1/webhooks",
                      "webhook", body, wrap=False)
    report.secret, report.secret_source = token, "given" if secret else "generated by tiergate install"
    triggers = {t.get("name"): t for t in (desk.call("GET", "/api/v1/triggers") or [])}
    for trig in default_triggers(hook_id) + outcome_triggers(hook_id):
        _upsert(desk, report, "triggers", triggers.get(trig["name"]), "/api/v1/triggers", "trigger", trig,
                wrap=False)
    return report


# -- uninstall ---------------------------------------------------------------------------------
UNINSTALL_ORDER = {"zendesk": (("triggers", "/api/v2/triggers"), ("webhooks", "/api/v2/webhooks"),
                               ("ticket_fields", "/api/v2/ticket_fields")),
                   "zammad": (("triggers", "/api/v1/triggers"), ("webhooks", "/api/v1/webhooks"))}


def _desk_for(helpdesk: str, settings: Settings, dry_run: bool) -> Desk:
    return zendesk_desk(settings, dry_run=dry_run) if helpdesk == "zendesk" else zammad_desk(settings, dry_run=dry_run)


@click.command()
@click.option("--helpdesk", type=click.Choice(["zendesk", "zammad"]), default="zendesk", show_default=True)
@click.option("--receiver-url", "receiver", default=None, metavar="URL",
              help="The tiergate receiver's public base URL (https://...).  [required]")
@click.option("--url", "old_receiver", default=None, hidden=True, help="Deprecated: --receiver-url.")
@click.option("--secret", default=None, envvar="TIERGATE_WEBHOOK_SECRET",
              help="Signing secret for a new webhook (default: TIERGATE_WEBHOOK_SECRET, else the desk's own).")
@click.option("--record", "record_path", type=click.Path(dir_okay=False, path_type=Path),
              default=DEFAULT_RECORD, show_default=True, help="Where the ids of created objects are kept.")
@click.option("--manifest", "manifest_path", default=None, type=click.Path(dir_okay=False),
              help="Site manifest the desk's group and field ids are written into (default: "
                   "$TIERGATE_MANIFEST, else ./manifest.json; created if missing).")
@click.option("--create-groups", is_flag=True, help="Create a group for each tier or team no desk group is named after.")
@click.option("--dry-run", is_flag=True, help="Print the requests instead of sending them.")
def install(helpdesk: str, receiver: str | None, old_receiver: str | None, secret: str | None,
            record_path: Path, manifest_path: str | None, create_groups: bool, dry_run: bool) -> None:
    """Map tiers and teams to the desk's groups by name, create (or update) the webhook, triggers
    and fields tiergate needs, write their ids into the site manifest, then test a delivery.
    With --dry-run: print the mapping and the planned requests (secrets masked), write nothing."""
    if old_receiver:
        click.echo("warning: --url is deprecated; use --receiver-url", err=True)
    receiver = receiver or old_receiver
    if not receiver:
        raise click.MissingParameter(param_hint="'--receiver-url'", param_type="option")
    check_receiver_url(receiver)
    settings = Settings.from_env()
    desk = _desk_for(helpdesk, settings, dry_run)
    if dry_run:
        click.echo(f"dry run: planning against {desk.base_url} (credentials "
                   f"{'given' if desk.auth or 'Authorization' in desk.headers else 'not needed'})")
    record = load_record(record_path)
    if record and record.get("helpdesk") not in (None, helpdesk):
        raise click.UsageError(f"{record_path} records an install into {record['helpdesk']}; use another --record")
    target = resolve_manifest(manifest_path).value
    site, effective = load_target(target)
    report = Report()
    group_ids = map_groups(desk, helpdesk, effective, create=create_groups, pages=_pages, report=report,
                           echo=click.echo)
    report = (install_zendesk if helpdesk == "zendesk" else install_zammad)(desk, receiver, secret=secret,
                                                                            report=report)
    write_ids(target, site, effective, group_ids, report.field_ids, dry_run=dry_run, echo=click.echo)
    if dry_run:
        click.echo(f"dry run: {len(desk.sent)} requests, none sent")
        return
    created = {k: list(v) for k, v in (record.get("created") or {}).items()}
    for kind, ids in report.created.items():
        created.setdefault(kind, [])
        created[kind] += [i for i in ids if i not in created[kind]]
    save_record(record_path, {"helpdesk": helpdesk, "base_url": desk.base_url, "receiver": receiver,
                              "installed_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "created": created})
    for kind in sorted(set(report.created) | set(report.updated)):
        click.echo(f"{kind}: created {len(report.created.get(kind, []))}, updated {len(report.updated.get(kind, []))}")
    click.echo(f"record: {record_path} (uninstall removes exactly the created objects)")
    if report.secret and secret and report.secret == secret:
        click.echo("signing secret: the one given (--secret / TIERGATE_WEBHOOK_SECRET); the receiver "
                   "must run with the same TIERGATE_WEBHOOK_SECRET")
    elif report.secret:
        # printed once, for the admin to copy; it is never written to the record file or a log
        click.echo(f"signing secret ({report.secret_source}); set it on the receiver:")
        click.echo(f"  export TIERGATE_WEBHOOK_SECRET='{report.secret}'")
    if helpdesk == "zammad":
        click.echo("test delivery: Zammad has no test endpoint; create a ticket to see one arrive")
        return
    status, detail = delivery_outcome(report.test)
    if 200 <= status < 300:
        click.echo(f"test delivery: arrived and verified (receiver answered {status})")
        return
    if status in (401, 403):
        raise click.ClickException(f"test delivery: arrived but the signature was refused ({status}): {detail}; "
                                   "set TIERGATE_WEBHOOK_SECRET on the receiver to the secret above")
    if status == 400:
        raise click.ClickException(f"test delivery: arrived, signature verified, payload refused (400): {detail}")
    raise click.ClickException(f"test delivery: failed (status {status or 'none'}): {detail}")


@click.command()
@click.option("--record", "record_path", type=click.Path(dir_okay=False, path_type=Path),
              default=DEFAULT_RECORD, show_default=True)
@click.option("--dry-run", is_flag=True, help="Print the requests instead of sending them.")
def uninstall(record_path: Path, dry_run: bool) -> None:
    """Delete exactly the objects ``tiergate install`` created (from its record file)."""
    record = load_record(record_path)
    if not record:
        raise click.UsageError(f"{record_path}: no install record; nothing to remove")
    helpdesk = record.get("helpdesk", "zendesk")
    desk = _desk_for(helpdesk, Settings.from_env(), dry_run)
    created = record.get("created") or {}
    removed = 0
    for kind, path in UNINSTALL_ORDER[helpdesk]:
        for oid in list(created.get(kind) or []):
            desk.call("DELETE", f"{path}/{oid}", ok=(404,))     # already gone is fine
            if dry_run:
                continue
            removed += 1
            created[kind].remove(oid)
            save_record(record_path, {**record, "created": created})   # progress survives a failure
    if dry_run:
        click.echo(f"dry run: {len(desk.sent)} requests, none sent")
        return
    record_path.unlink(missing_ok=True)
    click.echo(f"removed {removed} objects from {helpdesk}; record {record_path} deleted")
    if created.get("groups"):
        click.echo(f"kept the groups install created (tickets may be in them): {created['groups']}")
