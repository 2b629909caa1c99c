"""The manifest in force for a running process, reloaded without a restart, with history.

``ManifestStore(path).current()`` returns the loaded manifest; at most every ``check_every``
seconds it looks at the file (mtime + size, then a content hash) and loads a changed one. A
manifest that fails to load never replaces the one in force: the error is logged (every path)
and kept in ``last_error``. Each manifest that comes into force is recorded once (by version) in
the history: a Redis list when a connection is given, else a local JSON-lines file. Entries hold
the changelog (author/date/message from the file), when it came into force, and a readable diff
against the previous version; ``tiergate manifest log`` prints them, newest (in force) first.
``revert`` writes an earlier version's document back to the manifest file and records it as a
new entry that names the version it replaces. The history keeps the
effective document (a site file merged over the shipped defaults, which is what ``version``
hashes): a tiergate upgrade that changes a default comes into force as a new version whose diff
shows the change.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from tiergate.plugin.core.errors import ManifestError
from tiergate.plugin.core.manifest import default_manifest_path, load_manifest
from tiergate.plugin.core.manifest_model import Manifest
from tiergate.runtime import keys

log = logging.getLogger("tiergate.manifest")

MAX_HISTORY = 500


def default_history_path() -> Path:
    env = os.environ.get("TIERGATE_MANIFEST_LOG")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "tiergate" / "manifest-log.jsonl"


# --------------------------------------------------------------------------------------------
# readable diffs
# --------------------------------------------------------------------------------------------
def _flat(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        if not value:
            out[path] = {}
        for k, v in value.items():
            _flat(v, f"{path}.{k}" if path else str(k), out)
    elif isinstance(value, list) and value and all(isinstance(x, dict) and "name" in x
                                                   for x in value):
        for x in value:          # lists of named things (triggers) diff by name, not position
            _flat(x, f"{path}[{x['name']}]", out)
    elif isinstance(value, list) and any(isinstance(x, (dict, list)) for x in value):
        for i, x in enumerate(value):
            _flat(x, f"{path}[{i}]", out)
    else:
        out[path] = value


def readable_diff(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """``+ path: value`` / ``- path: value`` / ``~ path: old -> new`` lines, sorted by path."""
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    if old is not None:
        _flat(old, "", a)
    _flat(new, "", b)
    if old is None:
        return ["(first version)"]
    lines = []
    for key in sorted(set(a) | set(b)):
        if key in ("version", "changelog.author", "changelog.date", "changelog.message"):
            continue
        if key not in a:
            lines.append(f"+ {key}: {_short(b[key])}")
        elif key not in b:
            lines.append(f"- {key}: {_short(a[key])}")
        elif a[key] != b[key]:
            lines.append(f"~ {key}: {_short(a[key])} -> {_short(b[key])}")
    return lines


def _short(v: Any, limit: int = 80) -> str:
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------
# history backends
# --------------------------------------------------------------------------------------------
class FileHistory:
    """JSON lines, oldest first; documents kept inline for the next diff."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return out

    def last(self) -> dict[str, Any] | None:
        e = self.entries()
        return e[-1] if e else None

    def document(self, version: str) -> dict[str, Any] | None:
        for e in reversed(self.entries()):
            if e.get("version") == version:
                return e.get("document")
        return None

    def append(self, entry: dict[str, Any], document: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({**entry, "document": document}, ensure_ascii=False) + "\n")


class RedisHistory:
    """A Redis list of entries (oldest first) plus one key per version for the document."""

    def __init__(self, conn: Any, key: str = keys.MANIFEST_LOG):
        self.conn, self.key = conn, key

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.conn.lrange(self.key, 0, -1)]

    def last(self) -> dict[str, Any] | None:
        raw = self.conn.lindex(self.key, -1)
        return json.loads(raw) if raw else None

    def document(self, version: str) -> dict[str, Any] | None:
        raw = self.conn.get(keys.manifest_doc(version))
        return json.loads(raw) if raw else None

    def append(self, entry: dict[str, Any], document: dict[str, Any]) -> None:
        pipe = self.conn.pipeline(transaction=True)
        pipe.set(keys.manifest_doc(entry["version"]), json.dumps(document, ensure_ascii=False))
        pipe.rpush(self.key, json.dumps(entry, ensure_ascii=False))
        pipe.ltrim(self.key, -MAX_HISTORY, -1)
        pipe.execute()


def record(history: Any, manifest: Manifest, at: datetime, source: str = "", *,
           revert: bool = False) -> dict | None:
    """Append ``manifest`` to the history unless it is already the latest entry. ``revert``
    marks the entry as putting an earlier version back (``revert_of``: the version it replaces)."""
    last = history.last()
    if last is not None and last.get("version") == manifest.version:
        return None
    doc = manifest.to_dict()
    previous = history.document(last["version"]) if last else None
    ch = manifest.changelog
    entry = {"version": manifest.version, "label": manifest.label,
             "in_force_at": at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "author": ch.author if ch else None, "date": ch.date if ch else None,
             "message": ch.message if ch else None, "source": source,
             "previous": last["version"] if last else None,
             "diff": readable_diff(previous, doc) if last else ["(first version)"]}
    if revert and last is not None:
        entry["revert_of"] = last["version"]
    history.append(entry, doc)
    return entry


def revert(history: Any, version: str, path: Path | str, at: datetime) -> dict | None:
    """Put ``version`` back in force: write its document (from the history) to ``path`` and
    record it as the newest entry, a revert of the version it replaces. None when ``version``
    is already the latest entry (the file is still rewritten with its document). Raises
    ``KeyError`` when the history does not hold ``version``, ``ManifestError`` when its document
    no longer validates."""
    doc = history.document(version)
    if doc is None:
        raise KeyError(version)
    manifest = load_manifest(doc)
    target = Path(path)
    tmp = target.with_name(f".{target.name}.revert-{os.getpid()}")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, target)       # atomic: a running store never reads half a file
    return record(history, manifest, at, str(target), revert=True)


def in_force_view(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """History entries newest first, without their documents, each with ``in_force`` (only the
    newest entry is) and ``superseded_at`` (when the next entry came into force)."""
    out: list[dict[str, Any]] = []
    newer_at = None
    for i, e in enumerate(reversed(entries)):
        view = {k: v for k, v in e.items() if k != "document"}
        view["in_force"] = i == 0
        view["superseded_at"] = newer_at
        newer_at = e.get("in_force_at")
        out.append(view)
    return out


# --------------------------------------------------------------------------------------------
# the store
# --------------------------------------------------------------------------------------------
class ManifestStore:
    """Holds the manifest in force and reloads it when the file changes."""

    def __init__(self, path: str | Path | None = None, *, conn: Any = None,
                 check_every: float = 2.0, history: Any = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.path = Path(path) if path else default_manifest_path()
        self.check_every = check_every
        self._clock, self._wall = clock, wall
        self.history = history if history is not None else (
            RedisHistory(conn) if conn is not None else FileHistory(default_history_path()))
        self._lock = threading.Lock()
        self._stat: tuple[float, int] | None = None
        self._checked = -1e18
        self.last_error: ManifestError | None = None
        self._manifest: Manifest = self._load_first()

    @classmethod
    def from_settings(cls, settings: Any, conn: Any = None, **kw: Any) -> "ManifestStore":
        return cls(getattr(settings, "manifest_path", None), conn=conn, **kw)

    def _stat_now(self) -> tuple[float, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _load_first(self) -> Manifest:
        self._stat = self._stat_now()
        m = load_manifest(self.path)          # no manifest in force yet: errors propagate
        self._checked = self._clock()
        self._record(m)
        return m

    def _record(self, m: Manifest) -> None:
        try:
            entry = record(self.history, m, self._wall(), str(self.path))
            if entry:
                log.info("manifest %s in force (%s)", m.version, entry.get("message") or "")
        except Exception as exc:  # history must never stop the manifest from loading
            log.warning("manifest history not recorded: %s", exc)

    def current(self) -> Manifest:
        now = self._clock()
        if now - self._checked >= self.check_every:
            self.reload()
        return self._manifest

    def reload(self, force: bool = False) -> bool:
        """Load the file if it changed; True when a new manifest came into force."""
        with self._lock:
            self._checked = self._clock()
            st = self._stat_now()
            if not force and st == self._stat:
                return False
            self._stat = st
            try:
                m = load_manifest(self.path)
            except ManifestError as exc:
                self.last_error = exc
                log.error("manifest %s rejected, keeping %s in force:\n%s", self.path,
                          self._manifest.version,
                          "\n".join(f"  {p or '(root)'}: {msg}" for p, msg in exc.errors))
                return False
            self.last_error = None
            if m.version == self._manifest.version:
                return False
            self._manifest = m
            self._record(m)
            return True


__all__ = ["ManifestStore", "FileHistory", "RedisHistory", "record", "revert", "in_force_view",
           "readable_diff", "default_history_path"]
