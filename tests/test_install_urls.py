"""``tiergate install``: ``--dry-run`` never prints the signing secret, plain http receivers are
refused (loopback hosts excepted), and a receiver URL's query and fragment survive."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from fixtures_zammad import zammad_server  # noqa: F401
from tiergate.plugin import install as inst
from tiergate.plugin.install_checks import endpoint_url

SECRET = "dry-run-secret-Hq8Lm2Vx"


def _env(handle) -> dict[str, str]:
    o = handle.settings_overrides()
    return {"ZENDESK_SUBDOMAIN": o["zendesk_subdomain"], "ZENDESK_EMAIL": o["zendesk_email"],
            "ZENDESK_API_TOKEN": o["zendesk_api_token"], "ZENPY_FORCE_SCHEME": "http",
            "ZENPY_FORCE_NETLOC": o["zendesk_netloc"], "TIERGATE_WEBHOOK_SECRET": ""}


def _install(args, env):
    return CliRunner().invoke(inst.install, args, env=env, catch_exceptions=False)


@pytest.mark.parametrize("how", ["--secret", "env"])
def test_zendesk_dry_run_never_prints_the_secret(zendesk_server, tmp_path, how):
    env = _env(zendesk_server)
    args = ["--receiver-url", "https://tg.example", "--record", str(tmp_path / "r.json"), "--dry-run"]
    if how == "--secret":
        args += ["--secret", SECRET]
    else:
        env["TIERGATE_WEBHOOK_SECRET"] = SECRET
    res = _install(args, env)
    assert res.exit_code == 0, res.output
    assert SECRET not in res.output
    line = next(l for l in res.output.splitlines() if l.startswith("POST /api/v2/webhooks {"))
    assert json.loads(line.split(" ", 2)[2])["webhook"]["signing_secret"]["secret"] == "***"


def test_zammad_dry_run_never_prints_the_signature_token(zammad_server, tmp_path):  # noqa: F811
    env = {"ZAMMAD_URL": zammad_server.url, "ZAMMAD_TOKEN": zammad_server.token, "TIERGATE_WEBHOOK_SECRET": SECRET}
    res = _install(["--helpdesk", "zammad", "--receiver-url", "https://tg.example", "--record", str(tmp_path / "z.json"),
                    "--dry-run"], env)
    assert res.exit_code == 0, res.output
    assert SECRET not in res.output and zammad_server.token not in res.output
    line = next(l for l in res.output.splitlines() if l.startswith("POST /api/v1/webhooks {"))
    assert json.loads(line.split(" ", 2)[2])["signature_token"] == "***"


@pytest.mark.parametrize("url", ["http://tiergate.example.com", "http://10.0.0.5:8000", "ftp://tg.example",
                                 "tiergate.example.com", "https://", "http://localhost.evil.example"])
def test_non_https_receivers_are_refused(zendesk_server, tmp_path, url):
    res = CliRunner().invoke(inst.install, ["--receiver-url", url, "--record", str(tmp_path / "r.json"), "--dry-run"],
                             env=_env(zendesk_server))
    assert res.exit_code == 2 and "--receiver-url" in res.output, res.output
    assert "POST /api/v2/webhooks" not in res.output


@pytest.mark.parametrize("url", ["http://localhost:8000", "http://127.0.0.1:9000/base", "http://[::1]:8000"])
def test_http_is_accepted_for_loopback_receivers(zendesk_server, tmp_path, url):
    res = _install(["--receiver-url", url, "--record", str(tmp_path / "r.json"), "--dry-run"], _env(zendesk_server))
    assert res.exit_code == 0, res.output


def test_query_and_fragment_stay_in_place(zendesk_server, tmp_path):
    url = "https://gw.example/tiergate/?key=abc&x=1#part"
    assert endpoint_url(url, "zendesk") == "https://gw.example/tiergate/webhooks/zendesk?key=abc&x=1#part"
    assert endpoint_url("https://gw.example", "zammad") == "https://gw.example/webhooks/zammad"
    res = _install(["--receiver-url", url, "--record", str(tmp_path / "r.json"), "--dry-run"], _env(zendesk_server))
    line = next(l for l in res.output.splitlines() if l.startswith("POST /api/v2/webhooks {"))
    assert json.loads(line.split(" ", 2)[2])["webhook"]["endpoint"] == \
        "https://gw.example/tiergate/webhooks/zendesk?key=abc&x=1#part"
