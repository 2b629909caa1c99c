"""Where the ``tiergate`` commands look for a file nobody named: the manifest (``check``,
``simulate``) and the decision log (``demo`` writes it, ``report`` reads it). Each resolver returns
the choice with the reason, so the command can say which file it uses and why.

Manifest: ``--manifest`` (or ``check PATH``) > ``TIERGATE_MANIFEST`` > ``./manifest.json`` > the
manifest shipped in the package.

Decision log: ``--db`` > ``TIERGATE_DB_URL`` > ``./tiergate.sqlite`` (the receiver's default) when
it exists > the last demo's log (``demo_db_path()``) when it exists; else nothing, and the command
says where it looked. A SQLite file that does not exist is never opened for reading (it would be
created empty and report nothing).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from tiergate.plugin.core.manifest import default_manifest_path

MANIFEST_ENV = "TIERGATE_MANIFEST"
DB_ENV = "TIERGATE_DB_URL"
LOCAL_MANIFEST = "manifest.json"
LOCAL_DB = "tiergate.sqlite"
DEMO_DB = "demo.sqlite"


@dataclass(frozen=True)
class Choice:
    """A resolved default: what is used (a path or URL) and why, for one line of output."""

    value: str
    why: str

    def line(self, what: str) -> str:
        return f"{what}: {self.value} ({self.why})"


def resolve_manifest(option: str | None, environ: Mapping[str, str] | None = None,
                     cwd: Path | None = None) -> Choice:
    env = os.environ if environ is None else environ
    if option:
        return Choice(str(option), "given on the command line")
    if env.get(MANIFEST_ENV):
        return Choice(env[MANIFEST_ENV], f"from {MANIFEST_ENV}")
    local = (cwd or Path.cwd()) / LOCAL_MANIFEST
    if local.is_file():
        return Choice(str(local), f"./{LOCAL_MANIFEST} in the current directory")
    return Choice(str(default_manifest_path()),
                  f"the shipped default: no --manifest, no {MANIFEST_ENV}, no ./{LOCAL_MANIFEST}")


def demo_db_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where ``tiergate demo`` keeps its decision log unless ``TIERGATE_DB_URL`` names one:
    ``$XDG_STATE_HOME/tiergate/demo.sqlite`` (default ``~/.local/state``)."""
    env = os.environ if environ is None else environ
    state = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "state")
    return Path(state) / "tiergate" / DEMO_DB


def demo_db_url(environ: Mapping[str, str] | None = None) -> Choice:
    env = os.environ if environ is None else environ
    if env.get(DB_ENV):
        return Choice(env[DB_ENV], f"from {DB_ENV}")
    return Choice(f"sqlite:///{demo_db_path(env)}", "the demo's own log; tiergate report reads it by default")


def sqlite_file(url: str) -> Path | None:
    """The file a ``sqlite:///`` URL names, or None (another database, or in memory)."""
    # here, not at the top: SQLAlchemy adds ~0.35 s to ``tiergate check``, which reads no database
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


class NoDecisionLog(Exception):
    """No decision log where the defaults point; the message lists every place looked at."""


def resolve_db(option: str | None, environ: Mapping[str, str] | None = None,
               cwd: Path | None = None) -> Choice:
    env = os.environ if environ is None else environ
    if option:
        return _existing(Choice(option, "given with --db"))
    if env.get(DB_ENV):
        return _existing(Choice(env[DB_ENV], f"from {DB_ENV}"))
    local = (cwd or Path.cwd()) / LOCAL_DB
    if local.is_file():
        return Choice(f"sqlite:///{local}", f"./{LOCAL_DB} in the current directory")
    demo = demo_db_path(env)
    if demo.is_file():
        return Choice(f"sqlite:///{demo}", "the last tiergate demo's log")
    raise NoDecisionLog(
        f"no decision log found: no --db, {DB_ENV} is not set, no {local}, no demo log at {demo}; "
        f"run `tiergate demo` or pass --db URL")


def _existing(choice: Choice) -> Choice:
    path = sqlite_file(choice.value)
    if path is not None and not path.is_file():
        raise NoDecisionLog(f"no decision log at {path} ({choice.why}); the file does not exist")
    return choice


__all__ = ["Choice", "NoDecisionLog", "demo_db_path", "demo_db_url", "resolve_db", "resolve_manifest",
           "sqlite_file"]
