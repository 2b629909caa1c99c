"""Passwords inside REDIS_URL, TIERGATE_DB_URL and ZAMMAD_URL never reach the logs: ``tiergate
serve`` and ``tiergate worker`` start (DEBUG logging) against a password-protected real Redis,
take a signed webhook, run its job against an unreachable helpdesk, and their whole output is
grepped."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import redis
import requests

from test_web_support import event_body, signed
from tiergate.runtime.config import Settings
from tiergate.plugin.embedded import free_port, start_redis
from tiergate.runtime.redact import redact_url, secret_values

SECRET = "secrets-webhook-0123456789"
REDIS_PW = "redis-pw-Qx7pL2"
DB_PW = "db-pw-Zr9kW4"
ZAMMAD_PW = "zammad-pw-Mn3vB8"
PASSWORDS = (REDIS_PW, DB_PW, ZAMMAD_PW)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIERGATE_", "ZENDESK_", "REDIS_URL", "ZAMMAD"))}
    env.update(extra)
    return env


def test_redact_url_and_settings():
    assert redact_url("redis://:pw1234@h:6379/0") == "redis://:***@h:6379/0"
    assert redact_url("postgresql://u:p%40ss@db/x") == "postgresql://u:***@db/x"
    assert redact_url("redis://h:6379/0") == "redis://h:6379/0"
    settings = Settings(redis_url=f"redis://:{REDIS_PW}@h/0", db_url=f"postgresql://u:{DB_PW}@db/x",
                        zammad_url=f"https://bot:{ZAMMAD_PW}@desk.example", webhook_secret=SECRET)
    assert not any(p in str(settings.redacted()) for p in PASSWORDS + (SECRET,))
    assert set(PASSWORDS) | {SECRET} <= set(secret_values(settings))


def test_start_up_and_a_job_with_passwords_in_every_url_log_none_of_them(tmp_path):
    own = start_redis()
    try:
        redis.Redis(port=own.port).config_set("requirepass", REDIS_PW)
        env = _env(REDIS_URL=f"redis://:{REDIS_PW}@127.0.0.1:{own.port}/0",
                   TIERGATE_DB_URL=f"postgresql://tiergate:{DB_PW}@127.0.0.1:9/tiergate",
                   ZAMMAD_URL=f"http://bot:{ZAMMAD_PW}@127.0.0.1:9/", TIERGATE_WEBHOOK_SECRET=SECRET,
                   ZENDESK_SUBDOMAIN="acme", ZENDESK_EMAIL="bot@example.com", ZENDESK_API_TOKEN="tok-123456",
                   ZENPY_FORCE_SCHEME="http", ZENPY_FORCE_NETLOC="127.0.0.1:9", ZENDESK_TIMEOUT="1")
        port = free_port()
        serve = subprocess.Popen([sys.executable, "-m", "tiergate.plugin.cli", "serve", "--port", str(port),
                                  "--log-level", "DEBUG"], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                    break
                except requests.ConnectionError:
                    assert serve.poll() is None and time.monotonic() < deadline, "serve did not come up"
                    time.sleep(0.1)
            raw, headers = signed(event_body(ticket_id=9), secret=SECRET)
            response = requests.post(f"http://127.0.0.1:{port}/webhooks/zendesk", data=raw, headers=headers, timeout=10)
            assert response.status_code == 202, response.text
        finally:
            serve.terminate()
            serve_out, _ = serve.communicate(timeout=20)
        worker = subprocess.run([sys.executable, "-m", "tiergate.plugin.cli", "worker", "--burst",
                                 "--log-level", "DEBUG"], env=env, capture_output=True, text=True, timeout=240)
        logs = serve_out + worker.stdout + worker.stderr
        assert "webhook queued" in logs and "worker settings" in logs, logs[-3000:]
        for password in PASSWORDS:
            assert password not in logs, f"{password} leaked:\n" + "\n".join(
                line for line in logs.splitlines() if password in line)[:2000]
        assert "***" in logs
    finally:
        own.stop()
