"""What ``tiergate install`` writes into the site's manifest file: the desk's group ids for the
manifest's tiers and teams, matched by name, and the ids of the ticket fields it created.

Tiers and teams are matched to the desk's groups by name, case-insensitive (the ``label`` first,
then the key, ``_`` read as a space; ``plugin.core.manifest_ids.match_groups``). A tier or team no
group matches is an error naming each, unless ``--create-groups``: then a group named after its
label is created (and recorded as created; ``uninstall`` keeps groups, tickets may be in them).

The ids are written into the raw site file (``extends`` and everything else kept, only the ids
that differ from the effective document written; ``manifest_ids.site_with_ids``). A
``--manifest`` that does not exist yet is created as a site file over the shipped defaults. When
the manifest in force is the shipped one, nothing is written and the lines say how to keep the
ids. ``--dry-run`` reads the desk's groups (when credentials are given) to show the mapping, and
writes nothing.
"""
from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import click

from tiergate.plugin.core.errors import ManifestError
from tiergate.plugin.core.manifest import default_manifest_path, read_document
from tiergate.plugin.core.manifest_ids import match_groups, site_with_ids
from tiergate.plugin.core.manifest_layers import EXTENDS

FIELD_KEYS = {"tiergate attention score": "score_field", "tiergate risk tags": "risk_field"}
GROUP_PATHS = {"zendesk": "/api/v2/groups", "zammad": "/api/v1/groups"}


def _shipped(path: str | Path) -> bool:
    return Path(path).resolve() == default_manifest_path().resolve()


def load_target(path: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(the raw site document, or None when ``path`` is the shipped manifest; the effective
    document). A path that does not exist yet is an empty site file over the shipped defaults."""
    try:
        if _shipped(path):
            return None, read_document(path)
        if not Path(path).exists():
            site = {EXTENDS: "tiergate:default"}
            return site, read_document(site)
        site = json.loads(Path(path).read_text(encoding="utf-8"))
        return site, read_document(path)
    except ManifestError as exc:
        where = "; ".join(f"{p or '(root)'}: {m}" for p, m in exc.errors[:5])
        raise click.UsageError(f"{path}: not a valid manifest ({where}); fix it or pass another --manifest") from None
    except (OSError, ValueError) as exc:
        raise click.UsageError(f"{path}: cannot read ({exc})") from None


def desk_groups(desk: Any, helpdesk: str, pages: Callable) -> list[tuple[int, str]] | None:
    """The desk's groups as (id, name); read even in a dry run when credentials are given (a
    read-only look-up); None when a dry run has no credentials."""
    reader = desk
    if desk.dry_run:
        if not (desk.auth or "Authorization" in desk.headers):
            return None
        reader = replace(desk, dry_run=False, sent=[])
    rows = pages(reader, GROUP_PATHS["zendesk"], "groups") if helpdesk == "zendesk" else \
        (reader.call("GET", GROUP_PATHS["zammad"]) or [])
    return [(int(g["id"]), str(g.get("name") or "")) for g in rows if isinstance(g, dict) and "id" in g]


def map_groups(desk: Any, helpdesk: str, effective: dict[str, Any], *, create: bool, pages: Callable,
               report: Any, echo: Callable[[str], None]) -> dict[tuple[str, str], Any]:
    """(section, key) -> desk group id for every tier and team; ClickException naming every
    unmatched (or ambiguous) one, unless ``create`` (then missing groups are created)."""
    groups = desk_groups(desk, helpdesk, pages)
    if groups is None:
        echo("group mapping: not shown (a dry run without credentials cannot read the desk's groups)")
        return {}
    match = match_groups(effective, groups)
    problems = [f"{s}.{k}: desk groups {ids} are all named {name!r}; rename all but one"
                for (s, k), name, ids in match.ambiguous]
    if not create:
        problems += [f"{s}.{k}: no desk group named {name!r} (nor {k!r}); create it, or run "
                     f"with --create-groups" for (s, k), name in match.missing]
    if problems:
        raise click.ClickException("tiers and teams without a desk group:\n  " + "\n  ".join(problems))
    ids: dict[tuple[str, str], Any] = dict(match.ids)
    for owner, name in match.missing:
        body = {"group": {"name": name}} if helpdesk == "zendesk" else {"name": name, "active": True}
        data = desk.call("POST", GROUP_PATHS[helpdesk], body)
        gid = ((data or {}).get("group", data) or {}).get("id") if data else desk.fake_id("group")
        report.add("groups", gid, created=True)
        ids[owner] = gid
    for (section, key), gid in ids.items():
        echo(f"group mapping: {section}.{key} -> {gid}"
             + (" (created)" if (section, key) in dict(match.missing) else ""))
    return ids


def write_ids(path: str, site: dict[str, Any] | None, effective: dict[str, Any],
              group_ids: dict[tuple[str, str], Any], field_ids: dict[str, Any], *, dry_run: bool,
              echo: Callable[[str], None]) -> list[str]:
    """Write the ids into the site file at ``path`` (see the module docstring); the change lines."""
    fields = {FIELD_KEYS[t]: str(i) for t, i in field_ids.items() if t in FIELD_KEYS and i is not None}
    if dry_run:
        fields = {k: v for k, v in fields.items() if not v.startswith("<new")}
        group_ids = {k: v for k, v in group_ids.items() if isinstance(v, int)}
    new_site, changes = site_with_ids(site or {EXTENDS: "tiergate:default"}, effective, group_ids, fields)
    if not changes:
        echo(f"manifest: {path} already holds the desk's ids")
        return []
    for line in changes:
        echo(f"manifest: {line}")
    if dry_run:
        echo(f"manifest: dry run, {path} not written")
    elif site is None:
        echo(f"manifest: {path} is the shipped manifest and was not changed; keep these ids with "
             "--manifest manifest.json (created as a site file over the shipped defaults)")
    else:
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(new_site, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o777)
        tmp.replace(target)
        echo(f"manifest: wrote {len(changes)} id(s) into {path}")
    return changes
