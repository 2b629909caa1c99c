"""``tiergate serve``: waitress on a real port, configured by the environment; refuses to start
without the webhook secret; prints settings with secrets redacted."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import requests

from tiergate.plugin.embedded import free_port

SECRET = "serve-secret-abcdef123456"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIERGATE_", "ZENDESK_", "REDIS_URL"))}
    env.update(extra)
    return env


def test_serve_refuses_to_start_without_the_secret(redis_url):
    done = subprocess.run([sys.executable, "-m", "tiergate.plugin.cli", "serve", "--port", "0"],
                          env=_env(REDIS_URL=redis_url), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "TIERGATE_WEBHOOK_SECRET is required" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_runs_under_waitress_with_redacted_settings(redis_url, redis_conn):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tiergate.plugin.cli", "serve", "--port", str(port), "--threads", "2"],
        env=_env(REDIS_URL=redis_url, TIERGATE_WEBHOOK_SECRET=SECRET, ZENDESK_API_TOKEN="tok-zzz-999"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.1)
        assert response.status_code == 200 and response.json() == {"redis": "ok"}
        assert response.headers["Server"] == "tiergate"
        unsigned = requests.post(f"http://127.0.0.1:{port}/webhooks/zendesk", json={"ticket_id": 1}, timeout=5)
        assert unsigned.status_code == 401
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert "webhook_secret=***" in out and "zendesk_api_token=***" in out
    assert SECRET not in out + err and "tok-zzz-999" not in out + err
    assert "webhook rejected" in err and "reason=missing_signature" in err
    assert "appendonly=no" in err  # the test Redis runs without AOF: the operator is warned
