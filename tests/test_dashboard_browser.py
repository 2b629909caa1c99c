"""The dashboard in a real headless Chromium against the app on a localhost port.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: commands on
fd 3, replies on fd 4, NUL-separated JSON), so no driver or extra package is needed and the admin
token travels the way it must: ``Network.setExtraHTTPHeaders`` adds ``Authorization: Bearer``.
A second, isolated browser context signs in through the login form instead (HttpOnly cookie).
The screenshot goes to ``tests/_artifacts/dashboard.png``.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
from test_analytics_history import TIERS, build_history

from tiergate.plugin.analytics.log import DecisionLog
from tiergate.plugin.analytics.review import draw, record_review
from tiergate.plugin.embedded import free_port

ARTIFACTS = Path(__file__).resolve().parent / "_artifacts"
TOKEN = "browser-test-token-Zx81"
CHROMIUM = os.environ.get("TIERGATE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe"]


def _high_fd(fd: int) -> int:
    import fcntl

    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Browser:
    """A minimal DevTools client over Chromium's debugging pipe."""

    def __init__(self, binary: str):
        self.profile = tempfile.mkdtemp(prefix="tg-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        to_child_r, from_child_w = _high_fd(to_child_r), _high_fd(from_child_w)  # never 3 or 4
        # the child's fd 3 reads our commands, its fd 4 carries the replies (bash: fds >= 10)
        script = f'exec "$@" 3<&{to_child_r} 4>&{from_child_w} {to_child_r}<&- {from_child_w}>&-'
        self.proc = subprocess.Popen(
            [shutil.which("bash") or "/bin/bash", "-c", script, "bash", binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            pass_fds=(to_child_r, from_child_w), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(to_child_r)
        os.close(from_child_w)
        self._next = 0
        self._cond = threading.Condition()
        self._replies: dict[int, dict] = {}
        self.events: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buf = b""
        with os.fdopen(self._from_child, "rb", buffering=0) as pipe:
            while True:
                chunk = pipe.read(65536)
                if not chunk:
                    break
                buf += chunk
                while b"\0" in buf:
                    raw, buf = buf.split(b"\0", 1)
                    msg = json.loads(raw)
                    with self._cond:
                        if "id" in msg:
                            self._replies[msg["id"]] = msg
                        else:
                            self.events.append(msg)
                        self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict:
        with self._cond:
            self._next += 1
            ident = self._next
        msg = {"id": ident, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        with self._cond:
            if not self._cond.wait_for(lambda: ident in self._replies or not self._reader.is_alive(), timeout):
                raise TimeoutError(f"no reply to {method} within {timeout}s")
            reply = self._replies.pop(ident, None)
        if reply is None:
            raise RuntimeError(f"chromium exited: {self.proc.stderr.read().decode(errors='replace')[-2000:]}")
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def wait_event(self, method: str, session: str, after: int, timeout: float = 30.0) -> dict:
        with self._cond:
            ok = self._cond.wait_for(lambda: any(
                e["method"] == method and e.get("sessionId") == session for e in self.events[after:]), timeout)
            if not ok:
                raise TimeoutError(f"no {method} within {timeout}s")
            return next(e for e in self.events[after:] if e["method"] == method and e.get("sessionId") == session)

    def page(self, *, context: str | None = None, headers: dict | None = None,
             width: int = 1280, height: int = 900) -> str:
        params = {"url": "about:blank"}
        if context:
            params["browserContextId"] = context
        target = self.send("Target.createTarget", params)["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method in ("Page.enable", "Network.enable", "Runtime.enable"):
            self.send(method, session=session)
        if headers:
            self.send("Network.setExtraHTTPHeaders", {"headers": headers}, session=session)
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                         "deviceScaleFactor": 1, "mobile": False}, session=session)
        return session

    def goto(self, session: str, url: str) -> None:
        mark = len(self.events)
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_event("Page.loadEventFired", session, mark)

    def evaluate(self, session: str, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, session=session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def document_status(self, url: str) -> int | None:
        for e in reversed(self.events):
            if e["method"] == "Network.responseReceived" and e["params"]["response"]["url"] == url:
                return e["params"]["response"]["status"]
        return None

    def screenshot(self, session: str, path: Path) -> None:
        size = self.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
        shot = self.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}}, session=session)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        try:
            os.close(self._to_child)
        except OSError:
            pass
        if self.proc.stderr:
            self.proc.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM:
        pytest.fail("no Chromium for the dashboard test: set TIERGATE_CHROMIUM to a Chromium or Chrome "
                    "binary, or install the system's chromium (no PyPI package ships a browser that "
                    "runs without a download)")
    b = Browser(CHROMIUM)
    yield b
    b.close()


@pytest.fixture
def served(tmp_path):
    """The dashboard app on a free localhost port, over a log with the hand-computed history."""
    from flask import Flask
    from werkzeug.serving import make_server

    from tiergate.plugin.analytics.dashboard import init_app

    url = f"sqlite:///{tmp_path / 'log.sqlite'}"
    log = DecisionLog(url, tier_of_group=TIERS)
    build_history(log)
    draw(log, "2024-05", seed=7)
    record_review(log, "zendesk", 3, necessary=False, lower_tier_could_resolve=True, root_cause="misrouted",
                  follow_up="training", follow_up_status="in_progress")
    record_review(log, "zendesk", 1, necessary=True, lower_tier_could_resolve=False, root_cause="knowledge_gap",
                  follow_up="knowledge_base")
    log.close()
    app = Flask("dashboard-browser-test")
    app.config.update(TIERGATE_ADMIN_TOKEN=TOKEN, TIERGATE_DB_URL=url, TIERGATE_TIERS=TIERS)
    init_app(app)
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(5)


BARS_JS = """JSON.stringify([...document.querySelectorAll('svg.chart rect.bar')].map(r => ({
  chart: r.closest('svg').id, label: r.dataset.label, value: r.dataset.value,
  height: r.getBBox().height, width: r.getBBox().width})))"""


def test_dashboard_renders_the_data_in_chromium(browser, served):
    session = browser.page(headers={"Authorization": f"Bearer {TOKEN}"}, height=1000)
    browser.goto(session, f"{served}/dashboard?month=2024-05")
    assert browser.document_status(f"{served}/dashboard?month=2024-05") == 200
    assert browser.evaluate(session, "document.title") == "tiergate · escalations · 2024-05"
    # the stylesheet from static/ applied (no network beyond localhost)
    assert browser.evaluate(session, "getComputedStyle(document.body).backgroundColor") == "rgb(246, 247, 249)"

    bars = json.loads(browser.evaluate(session, BARS_JS))
    by_chart: dict[str, list[tuple[str, str]]] = {}
    for b in bars:
        by_chart.setdefault(b["chart"], []).append((b["label"], b["value"]))
    # escalation rate per day of creation in May: tickets 1, 3, 4 escalated (see the history)
    assert by_chart["chart-escalation-rate"] == [
        ("05-01", "1.0"), ("05-02", "0.0"), ("05-03", "1.0"), ("05-10", "1.0"), ("05-15", "0.0"), ("05-20", "0.0")]
    # time to escalation 30, 60, 240 minutes
    assert by_chart["chart-time-to-escalation"] == [
        ("<15m", "0.0"), ("15-60m", "1.0"), ("1-4h", "1.0"), ("4-24h", "1.0"), ("1-3d", "0.0"), (">3d", "0.0")]
    assert by_chart["chart-top-triggers"] == [("legal_threat", "2"), ("sla_breach", "1"), ("vip_watch", "1")]
    assert by_chart["chart-root-causes"] == [("knowledge gap", "1"), ("misrouted", "1")]
    # the bars really are drawn: full-height bars for 100%, none for 0%
    heights = {(b["chart"], b["label"]): b["height"] for b in bars}
    assert heights[("chart-escalation-rate", "05-01")] > 100
    assert heights[("chart-escalation-rate", "05-02")] == 0
    assert browser.evaluate(session, "document.querySelector('#chart-escalation-rate line.goal').dataset.value") == "0.1"

    tiles = browser.evaluate(session, "[...document.querySelectorAll('.tile')].map(t => t.innerText.replace(/\\s+/g, ' ').trim())")
    assert any(t.startswith("ESCALATION RATE 50.0% 3 of 6 tickets") for t in tiles), tiles
    assert any(t.startswith("TIME TO ESCALATION (MEDIAN) 60 min") for t in tiles), tiles
    queue = browser.evaluate(session, "[...document.querySelectorAll('#review-queue tbody tr')].map(r => r.innerText.replace(/\\s+/g, ' ').trim())")
    # seed 7 draws tickets 1 and 4 (accepted) and 3 (deferred); 1 and 3 reviewed, 4 queued first
    assert queue[0].startswith("#4 ticket 4 2024-05 accepted queued")
    assert sorted(queue[1:]) == ["#1 ticket 1 2024-05 accepted reviewed knowledge gap knowledge base (open)",
                                 "#3 ticket 3 2024-05 deferred reviewed misrouted training (in progress)"]

    dom = browser.evaluate(session, "document.documentElement.outerHTML")
    assert dom.count("<svg") == 4 and "Bad Request" not in dom
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    browser.screenshot(session, shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_browser_without_token_gets_the_sign_in_page_then_the_cookie(browser, served):
    context = browser.send("Target.createBrowserContext")["browserContextId"]
    try:
        session = browser.page(context=context)
        browser.goto(session, f"{served}/dashboard")
        assert browser.document_status(f"{served}/dashboard") == 401
        assert browser.evaluate(session, "document.querySelectorAll('svg.chart').length") == 0
        assert browser.evaluate(session, "!!document.querySelector('form input[name=token]')")
        mark = len(browser.events)
        browser.evaluate(session, "document.getElementById('token').value = 'wrong'; "
                                  "document.querySelector('form').submit(); true")
        browser.wait_event("Page.loadEventFired", session, mark)
        assert "not the admin token" in browser.evaluate(session, "document.body.innerText")
        mark = len(browser.events)
        browser.evaluate(session, f"document.getElementById('token').value = '{TOKEN}'; "
                                  "document.querySelector('form').submit(); true")
        browser.wait_event("Page.loadEventFired", session, mark)
        assert browser.evaluate(session, "document.querySelectorAll('svg.chart').length") == 4
        # the session cookie is HttpOnly: page scripts cannot read it
        assert browser.evaluate(session, "document.cookie") == ""
        cookies = browser.send("Storage.getCookies", {"browserContextId": context})["cookies"]
        assert [(c["name"], c["httpOnly"], c["sameSite"], c["path"]) for c in cookies] == [
            ("tg_dashboard", True, "Strict", "/dashboard")]
    finally:
        browser.send("Target.disposeBrowserContext", {"browserContextId": context})


@pytest.mark.slow
def test_dashboard_shows_the_demo_run(browser, zendesk_stack):
    """The demo's example tickets through the real path (local Zendesk, signed webhooks, receiver,
    RQ worker, NLP, decide, write-back, decision log), then the receiver's own /dashboard."""
    from tiergate.plugin import data
    from tiergate.plugin.analytics.report import report_dict
    from tiergate.plugin.examples import read_examples

    stack = zendesk_stack
    examples = read_examples(data.path("tickets.jsonl"))
    ids = [stack.import_and_wait_for_job(e) for e in examples]
    stack.work()
    log = DecisionLog(stack.settings.db_url)
    expected = report_dict(log)
    log.close()
    assert expected["tickets"] == len(ids)
    escalated = expected["metrics"]["escalation_rate"]["escalated"]
    assert escalated >= 1, "the examples include tickets that must escalate"

    session = browser.page(headers={"Authorization": f"Bearer {stack.settings.admin_token}"}, height=1000)
    browser.goto(session, f"{stack.receiver_url}/dashboard")
    assert browser.document_status(f"{stack.receiver_url}/dashboard") == 200
    bars = json.loads(browser.evaluate(session, BARS_JS))
    chart = lambda name: [(b["label"], b["value"]) for b in bars if b["chart"] == name]  # noqa: E731
    # one bar per day of creation (examples are minutes to days old), rate = escalated / tickets
    series = expected["series"]["escalation_rate"]
    assert [(label, float(v)) for label, v in chart("chart-escalation-rate")] == [
        (s["bucket"][5:], pytest.approx(s["rate"])) for s in series]
    assert sum(s["escalated"] for s in series) == escalated
    assert sum(float(v) for _, v in chart("chart-time-to-escalation")) == escalated
    assert chart("chart-top-triggers") == [(t["trigger"], str(t["tickets"])) for t in expected["series"]["top_triggers"]]
    tiles = browser.evaluate(session, "document.querySelector('.tile').innerText.replace(/\\s+/g, ' ')")
    assert f"{escalated} of {len(ids)} tickets" in tiles
    ARTIFACTS.mkdir(exist_ok=True)
    browser.screenshot(session, ARTIFACTS / "dashboard_demo.png")
