"""ManifestStore: reload without restart, keep the old manifest on error, history with diffs."""
from __future__ import annotations

import json
import logging

from tiergate.plugin.core.errors import ManifestError
from tiergate.runtime.manifest_store import (FileHistory, ManifestStore, RedisHistory,
                                            readable_diff)

from test_manifest_base import base_doc


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def write(path, doc):
    path.write_text(json.dumps(doc))


def test_reload_keep_on_error_and_history(tmp_path, caplog):
    path = tmp_path / "manifest.json"
    doc = base_doc()
    write(path, doc)
    clock = Clock()
    hist = FileHistory(tmp_path / "log.jsonl")
    store = ManifestStore(path, check_every=5, history=hist, clock=clock)
    v1 = store.current().version
    assert [e["version"] for e in hist.entries()] == [v1]

    # a valid change is picked up, but only after check_every seconds
    doc["triggers"][0]["actions"][0]["tags"] = ["tg_urgent", "tg_new"]
    doc["changelog"] = {"author": "ops", "date": "2026-11-28", "message": "tag more"}
    write(path, doc)
    clock.t = 1
    assert store.current().version == v1
    clock.t = 6
    v2 = store.current().version
    assert v2 != v1
    entries = hist.entries()
    assert [e["version"] for e in entries] == [v1, v2]
    assert entries[1]["author"] == "ops" and entries[1]["previous"] == v1
    assert any("triggers[urgent_tag].actions[0].tags" in ln for ln in entries[1]["diff"])

    # a broken file never replaces the manifest in force; the error is logged with its path
    doc["triggers"][0]["conditions"]["all"][0]["operator"] = "bogus"
    write(path, doc)
    clock.t = 20
    with caplog.at_level(logging.ERROR, logger="tiergate.manifest"):
        assert store.current().version == v2
    assert isinstance(store.last_error, ManifestError)
    assert "triggers[0].conditions.all[0].operator" in caplog.text
    assert len(hist.entries()) == 2

    # fixing it again records a third version; an unchanged file records nothing
    doc["triggers"][0]["conditions"]["all"][0]["operator"] = "is_not"
    write(path, doc)
    clock.t = 40
    v3 = store.current().version
    assert v3 not in (v1, v2) and store.last_error is None
    clock.t = 60
    assert store.reload(force=True) is False
    assert len(hist.entries()) == 3


def test_first_load_error_raises(tmp_path):
    path = tmp_path / "m.json"
    path.write_text("{}")
    try:
        ManifestStore(path, history=FileHistory(tmp_path / "h.jsonl"))
    except ManifestError as exc:
        assert exc.errors[0][0] == "tiers"
    else:  # pragma: no cover
        raise AssertionError("expected ManifestError")


def test_redis_history_and_from_settings(tmp_path, redis_conn):
    from tiergate.runtime.config import Settings

    path = tmp_path / "manifest.json"
    write(path, base_doc())
    store = ManifestStore.from_settings(Settings(manifest_path=str(path)), redis_conn)
    assert isinstance(store.history, RedisHistory)
    entries = store.history.entries()
    assert len(entries) == 1 and entries[0]["version"] == store.current().version
    assert entries[0]["diff"] == ["(first version)"]
    assert store.history.document(entries[0]["version"])["tiers"]["tier_1"]["group_id"] == 101
    # a second process with the same manifest does not duplicate the entry
    ManifestStore(path, conn=redis_conn)
    assert len(RedisHistory(redis_conn).entries()) == 1


def test_default_store_loads_embedded_manifest(tmp_path, monkeypatch):
    monkeypatch.setenv("TIERGATE_MANIFEST_LOG", str(tmp_path / "h.jsonl"))
    store = ManifestStore()
    assert store.current().tiers["tier_1"].group_id == 101
    assert (tmp_path / "h.jsonl").exists()


def test_readable_diff():
    a = {"tiers": {"t": {"owner_id": 1}}, "triggers": [{"name": "x", "enabled": True}]}
    b = {"tiers": {"t": {"owner_id": 2}}, "triggers": [{"name": "x", "enabled": False},
                                                       {"name": "y", "enabled": True}]}
    lines = readable_diff(a, b)
    assert "~ tiers.t.owner_id: 1 -> 2" in lines
    assert "~ triggers[x].enabled: true -> false" in lines
    assert "+ triggers[y].enabled: true" in lines
    assert "+ triggers[y].name: \"y\"" in lines


def _log(args):
    from click.testing import CliRunner

    from tiergate.plugin.manifest_cli import manifest as manifest_group
    return CliRunner().invoke(manifest_group, args)


def test_revert_puts_the_old_version_back_in_force_and_the_log_says_so(tmp_path):
    """record A, record B, revert to A: the manifest file holds A again, the history gains an
    entry for A marked as a revert of B, and the log shows A as the version in force and B as
    superseded."""
    path, hist = tmp_path / "manifest.json", tmp_path / "log.jsonl"
    a = base_doc()
    write(path, a)
    assert _log(["record", str(path), "--file", str(hist)]).exit_code == 0
    b = base_doc()
    b["tiers"]["tier_1"]["owner_id"] = 205
    b["changelog"]["message"] = "new frontline owner"
    write(path, b)
    assert _log(["record", str(path), "--file", str(hist)]).exit_code == 0
    version_a, version_b = (e["version"] for e in FileHistory(hist).entries())

    res = _log(["revert", version_a, "--manifest", str(path), "--file", str(hist)])
    assert res.exit_code == 0, res.output
    assert f"reverted to {version_a}" in res.output
    assert ManifestStore(path, history=FileHistory(hist)).current().version == version_a
    entries = FileHistory(hist).entries()
    assert [e["version"] for e in entries] == [version_a, version_b, version_a]
    assert entries[-1]["revert_of"] == version_b and entries[-1]["previous"] == version_b

    out = _log(["log", "--file", str(hist)]).output
    first, second = out.split("\n\n")[:2]
    assert first.startswith(f"version {version_a} (test-1)  IN FORCE since ")
    assert f"revert of {version_b}" in first and "~ tiers.tier_1.owner_id: 205 -> 201" in first
    assert second.startswith(f"version {version_b} (test-1)  superseded ")
    as_json = json.loads(_log(["log", "--file", str(hist), "--json"]).output)
    assert [e["in_force"] for e in as_json] == [True, False, False]
    assert all("document" not in e for e in as_json)

    again = _log(["revert", version_a, "--manifest", str(path), "--file", str(hist)])
    assert again.exit_code == 0 and "already in force" in again.output
    assert len(FileHistory(hist).entries()) == 3
    missing = _log(["revert", "0123456789ab", "--manifest", str(path), "--file", str(hist)])
    assert missing.exit_code != 0 and "0123456789ab: not in the manifest history" in missing.output


def test_revert_with_redis_history(tmp_path, redis_conn, redis_url):
    path = tmp_path / "manifest.json"
    write(path, base_doc())
    store = ManifestStore(path, conn=redis_conn)
    version_a = store.current().version
    b = base_doc()
    b["tiers"]["tier_1"]["owner_id"] = 205
    write(path, b)
    assert store.reload(force=True)
    res = _log(["revert", version_a, "--manifest", str(path), "--redis-url", redis_url])
    assert res.exit_code == 0, res.output
    assert store.reload(force=True) and store.current().version == version_a
    entries = RedisHistory(redis_conn).entries()
    assert [e["version"] for e in entries][-1] == version_a and len(entries) == 3
    out = _log(["log", "--redis-url", redis_url]).output
    assert out.startswith(f"version {version_a} (test-1)  IN FORCE since ")


def test_revert_refuses_the_shipped_manifest_and_unwritable_files(tmp_path):
    hist = tmp_path / "log.jsonl"
    path = tmp_path / "manifest.json"
    write(path, base_doc())
    assert _log(["record", str(path), "--file", str(hist)]).exit_code == 0
    version = FileHistory(hist).entries()[0]["version"]
    from tiergate.plugin.core.manifest import default_manifest_path
    res = _log(["revert", version, "--manifest", str(default_manifest_path()), "--file", str(hist)])
    assert res.exit_code == 2 and "shipped manifest is never overwritten" in res.output
    res = _log(["revert", version, "--manifest", str(tmp_path / "no" / "such" / "dir.json"),
                "--file", str(hist)])
    assert res.exit_code == 1 and "cannot write the manifest" in res.output
    assert "Traceback" not in res.output
