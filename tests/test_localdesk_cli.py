"""``tiergate localdesk``: the printed environment points tiergate's own connectors at the desk."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests

from tiergate.connectors.registry import get_connector
from tiergate.runtime.config import Settings
from tiergate.plugin.install import zendesk_desk


def run_localdesk(helpdesk: str):
    proc = subprocess.Popen([sys.executable, "-m", "tiergate.plugin.cli", "localdesk", "--helpdesk",
                             helpdesk, "--port", "0"], stdout=subprocess.PIPE, text=True)
    env: dict[str, str] = {}
    for line in proc.stdout:
        if line.startswith("export "):
            name, _, value = line[len("export "):].strip().partition("=")
            env[name] = value
        if line.startswith("Ctrl-C"):
            break
    return proc, env


@pytest.fixture
def zendesk_env():
    proc, env = run_localdesk("zendesk")
    yield env
    proc.terminate()
    proc.wait(10)


def test_zendesk_environment_reaches_the_desk_through_the_connector(zendesk_env):
    env = zendesk_env
    assert env["ZENPY_FORCE_SCHEME"] == "http" and env["ZENPY_FORCE_NETLOC"].startswith("127.0.0.1:")
    base = f"http://{env['ZENPY_FORCE_NETLOC']}/api/v2/groups.json"
    ok = requests.get(base, auth=(f"{env['ZENDESK_EMAIL']}/token", env["ZENDESK_API_TOKEN"]), timeout=10)
    assert ok.status_code == 200 and ok.json()["groups"], ok.text
    denied = requests.get(base, auth=(f"{env['ZENDESK_EMAIL']}/token", "wrong"), timeout=10)
    assert denied.status_code == 401
    settings = Settings.from_env(env)
    desk = zendesk_desk(settings, echo=lambda _line: None)
    assert isinstance(desk.call("GET", "/api/v2/webhooks")["webhooks"], list)
    connector = get_connector(settings.connection())
    with pytest.raises(Exception) as missing:
        connector.fetch_ticket(987654)
    assert type(missing.value).__name__ == "NotFound"


def test_zammad_environment_names_the_desk_and_its_token():
    proc, env = run_localdesk("zammad")
    try:
        assert env["TIERGATE_HELPDESK"] == "zammad"
        url = f"{env['ZAMMAD_URL']}/api/v1/groups"
        ok = requests.get(url, headers={"Authorization": f"Token token={env['ZAMMAD_TOKEN']}"}, timeout=10)
        assert ok.status_code == 200 and ok.json(), ok.text
        assert requests.get(url, headers={"Authorization": "Token token=wrong"}, timeout=10).status_code == 401
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_busy_port_is_a_clear_error():
    proc, env = run_localdesk("zendesk")
    try:
        port = env["ZENPY_FORCE_NETLOC"].rsplit(":", 1)[1]
        out = subprocess.run([sys.executable, "-m", "tiergate.plugin.cli", "localdesk", "--port", port],
                             capture_output=True, text=True, timeout=60, env={**os.environ})
        assert out.returncode == 1 and f"--port {port}" in out.stderr and "Traceback" not in out.stderr
    finally:
        proc.terminate()
        proc.wait(10)
