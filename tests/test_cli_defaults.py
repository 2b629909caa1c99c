"""What the ``tiergate`` commands use when nothing is named, and that they say so: the manifest of
``check`` / ``simulate`` / ``demo``, the decision log of ``report`` (the demo's, never a fresh
empty database), ``install --receiver-url`` and its dry run without credentials, one decision
path for ``demo`` and ``simulate`` (same tickets, same --now: same tags, group and priority), and
``scripts/test.sh`` saying what it uses without installing system packages or switching databases."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tiergate.plugin.analytics.log import DecisionLog
from tiergate.plugin.cli import main
from tiergate.plugin.core.manifest import load_manifest

REPO = Path(__file__).resolve().parents[1]
NOW = "2026-12-05T10:00:00Z"
UNSET = {"TIERGATE_MANIFEST": None, "TIERGATE_DB_URL": None, "ZENDESK_EMAIL": None,
         "ZENDESK_API_TOKEN": None, "ZENDESK_SUBDOMAIN": None, "ZENPY_FORCE_NETLOC": None,
         "ZENPY_FORCE_SCHEME": None, "ZAMMAD_URL": None, "ZAMMAD_TOKEN": None,
         "TIERGATE_WEBHOOK_SECRET": None}


def _manifest(path: Path, version: str) -> Path:
    doc = json.loads((REPO / "manifest.json").read_text())
    doc["version"] = version
    path.write_text(json.dumps(doc))
    return path


def _run(args, env=None, cwd: Path | None = None):
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(main, args, env={**UNSET, **(env or {})}, catch_exceptions=False)
    finally:
        os.chdir(old)


def _tickets(tmp_path: Path) -> Path:
    rows = [json.loads(x) for x in (REPO / "examples" / "tickets.jsonl").read_text().splitlines() if x.strip()]
    path = tmp_path / "tickets.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


# -- the manifest: --manifest > TIERGATE_MANIFEST > ./manifest.json > the shipped one ---------
def test_check_reads_the_manifest_in_the_current_directory(tmp_path):
    local = _manifest(tmp_path / "manifest.json", "local-1")
    res = _run(["check"], cwd=tmp_path)
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0] == f"manifest: {local} (./manifest.json in the current directory)"
    assert "(local-1)" in res.output


def test_check_order_option_then_env_then_cwd_then_shipped(tmp_path):
    _manifest(tmp_path / "manifest.json", "local-1")
    env_file = _manifest(tmp_path / "env.json", "env-1")
    opt_file = _manifest(tmp_path / "opt.json", "opt-1")
    by_env = _run(["check"], env={"TIERGATE_MANIFEST": str(env_file)}, cwd=tmp_path)
    assert f"manifest: {env_file} (from TIERGATE_MANIFEST)" in by_env.output and "(env-1)" in by_env.output
    by_opt = _run(["check", "--manifest", str(opt_file)], env={"TIERGATE_MANIFEST": str(env_file)}, cwd=tmp_path)
    assert "(given on the command line)" in by_opt.output and "(opt-1)" in by_opt.output
    empty = tmp_path / "empty"
    empty.mkdir()
    shipped = _run(["check"], cwd=empty)
    assert shipped.exit_code == 0 and "the shipped default" in shipped.output.splitlines()[0]


def test_simulate_uses_the_local_manifest_and_keeps_json_clean(tmp_path):
    _manifest(tmp_path / "manifest.json", "local-2")
    tickets = _tickets(tmp_path)
    res = _run(["simulate", "--tickets", str(tickets), "--json", "--now", NOW, "--no-nlp"], cwd=tmp_path)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["manifest_version"] == load_manifest(tmp_path / "manifest.json").version
    assert "(./manifest.json in the current directory)" in res.stderr
    text = _run(["simulate", "--tickets", str(tickets), "--now", NOW, "--no-nlp"], cwd=tmp_path)
    assert text.stdout.startswith(f"manifest: {tmp_path / 'manifest.json'} (")


# -- the decision log: never a fresh empty database ----------------------------------------------
def test_report_without_a_log_says_where_it_looked_and_fails(tmp_path):
    state = tmp_path / "state"
    res = _run(["report"], env={"XDG_STATE_HOME": str(state)}, cwd=tmp_path)
    assert res.exit_code == 1
    assert "no decision log found" in res.output
    assert str(tmp_path / "tiergate.sqlite") in res.output
    assert str(state / "tiergate" / "demo.sqlite") in res.output
    assert not (tmp_path / "tiergate.sqlite").exists() and not state.exists()
    missing = _run(["report", "--db", f"sqlite:///{tmp_path / 'nope.sqlite'}"], cwd=tmp_path)
    assert missing.exit_code == 1 and "does not exist" in missing.output
    assert not (tmp_path / "nope.sqlite").exists()
    by_env = _run(["report"], env={"TIERGATE_DB_URL": f"sqlite:///{tmp_path / 'gone.sqlite'}"}, cwd=tmp_path)
    assert by_env.exit_code == 1 and "TIERGATE_DB_URL" in by_env.output


def test_report_reads_the_demos_log_by_default(tmp_path):
    state = tmp_path / "state"
    demo_db = state / "tiergate" / "demo.sqlite"
    demo_db.parent.mkdir(parents=True)
    DecisionLog(f"sqlite:///{demo_db}").ensure_schema()
    res = _run(["report", "--format", "json"], env={"XDG_STATE_HOME": str(state)}, cwd=tmp_path)
    assert res.exit_code == 0, res.output
    json.loads(res.stdout)
    assert f"decision log: sqlite:///{demo_db} (the last tiergate demo's log)" in res.stderr


# -- install: --receiver-url; a dry run needs no credentials and never shows the secret ----------
@pytest.mark.parametrize("helpdesk", ["zendesk", "zammad"])
def test_install_dry_run_without_credentials(tmp_path, helpdesk):
    secret = "dry-secret-Pq93Zt"
    res = _run(["install", "--helpdesk", helpdesk, "--receiver-url", "https://tg.example",
                "--record", str(tmp_path / "r.json"), "--dry-run", "--secret", secret], cwd=tmp_path)
    assert res.exit_code == 0, res.output
    assert "none sent" in res.output and secret not in res.output
    hooks = "/api/v2/webhooks" if helpdesk == "zendesk" else "/api/v1/webhooks"
    assert f"POST {hooks}" in res.output
    assert not (tmp_path / "r.json").exists()


def test_install_receiver_url_option_and_deprecated_alias(tmp_path):
    help_text = _run(["install", "--help"]).output
    assert "--receiver-url" in help_text and "--url " not in help_text
    old = _run(["install", "--url", "https://tg.example", "--record", str(tmp_path / "r.json"), "--dry-run"],
               cwd=tmp_path)
    assert old.exit_code == 0 and "--url is deprecated; use --receiver-url" in old.stderr
    missing = _run(["install", "--dry-run"], cwd=tmp_path)
    assert missing.exit_code == 2 and "--receiver-url" in missing.output
    real = _run(["install", "--receiver-url", "https://tg.example", "--record", str(tmp_path / "r.json")],
                cwd=tmp_path)
    assert real.exit_code == 2 and "ZENDESK_EMAIL and ZENDESK_API_TOKEN are required" in real.output


# -- demo and simulate: one decision path --------------------------------------------------------
def test_demo_and_simulate_agree_on_every_ticket(tmp_path):
    """Both commands as a person runs them, on the same tickets file at the same --now; then
    ``tiergate report`` without --db reads the log the demo wrote."""
    tickets = _tickets(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in UNSET and k != "REDIS_URL"}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    cli = [sys.executable, "-m", "tiergate.plugin.cli"]
    demo = subprocess.run([*cli, "demo", "--json", "--now", NOW, "--tickets", str(tickets)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=400)
    assert demo.returncode == 0, demo.stderr[-2000:]
    sim = subprocess.run([*cli, "simulate", "--json", "--now", NOW, "--tickets", str(tickets)], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=400)
    assert sim.returncode == 0, sim.stderr[-2000:]
    assert "the shipped default" in demo.stderr and "the shipped default" in sim.stderr
    shown = json.loads(demo.stdout)["tickets"]
    simulated = json.loads(sim.stdout)["results"]
    assert len(shown) == len(simulated) == 10
    for d, s in zip(shown, simulated):
        assert (sorted(d["tags"]), d["group_id"], d["priority"]) == \
            (sorted(s["final_tags"]), s["final_group_id"], s["final_priority"]), s["external_id"]
    assert any(s["escalated"] for s in simulated)
    report = subprocess.run([*cli, "report", "--format", "json"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    assert "the last tiergate demo's log" in report.stderr
    assert json.loads(report.stdout)["tickets"] == 10


# -- scripts/test.sh: says what it uses, installs no system package, switches no database --------
def _stub(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


def _test_sh(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[str, str]:
    """scripts/test.sh in a copy of the tree whose .venv python, redis-cli, chromium, apt-get and
    pg_isready are stubs: returns what the script printed and what pytest was started with."""
    root = tmp_path / "tree"
    (root / "scripts").mkdir(parents=True)
    (root / "scripts" / "test.sh").write_text((REPO / "scripts" / "test.sh").read_text())
    (root / ".venv" / "bin").mkdir(parents=True)
    calls = tmp_path / "calls.log"
    _stub(root / ".venv" / "bin" / "python",
          f'case "$*" in *pytest*) echo "pytest $* PG=${{TIERGATE_TEST_PG_URL:-}} '
          f'BROWSER=${{TIERGATE_CHROMIUM:-}}" >> {calls};; esac; exit 0')
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _stub(bin_dir / "redis-cli", "exit 0")
    _stub(bin_dir / "chromium", "exit 0")
    for tool in ("apt-get", "apt", "pg_isready", "sudo"):
        _stub(bin_dir / tool, f'echo "{tool} $*" >> {calls}; exit 0')
    run_env = {k: v for k, v in os.environ.items() if k not in ("TIERGATE_TEST_PG_URL", "TIERGATE_CHROMIUM")}
    run_env["PATH"] = f"{bin_dir}:{run_env.get('PATH', '/usr/bin:/bin')}"
    run_env.update(env or {})
    res = subprocess.run(["bash", str(root / "scripts" / "test.sh"), *args], env=run_env, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return res.stdout, calls.read_text()


def test_test_sh_says_what_it_uses_and_stays_on_sqlite(tmp_path):
    out, calls = _test_sh(tmp_path, "-q", "tests/x.py")
    assert "test.sh: Redis: one answers on 127.0.0.1:6379" in out
    assert f"test.sh: browser: the system's Chromium at {tmp_path / 'bin' / 'chromium'}" in out
    assert "test.sh: databases: SQLite only" in out
    assert "apt" not in calls and "pg_isready" not in calls and "sudo" not in calls
    assert f"pytest -m pytest -q tests/x.py PG= BROWSER={tmp_path / 'bin' / 'chromium'}" in calls


def test_test_sh_uses_postgresql_only_when_asked(tmp_path):
    out, calls = _test_sh(tmp_path, "--pg", "-q")
    assert "test.sh: databases: SQLite and PostgreSQL at postgresql+psycopg://postgres@127.0.0.1:5432/test (--pg)" in out
    assert "pytest -m pytest -q PG=postgresql+psycopg://postgres@127.0.0.1:5432/test" in calls
    again = tmp_path / "again"
    again.mkdir()
    out, calls = _test_sh(again, env={"TIERGATE_TEST_PG_URL": "postgresql+psycopg://u:pw@db:5432/t"})
    assert "PostgreSQL at postgresql+psycopg://u:***@db:5432/t (TIERGATE_TEST_PG_URL)" in out
