"""Redis Sentinel fail-over on real processes: a primary, a replica and three sentinels
(``fixtures_sentinel``), the real receiver (``create_app`` under Flask's test client) and a real
``tiergate worker`` process, all configured only through ``TIERGATE_REDIS_SENTINELS``. Signed
webhooks go in one after another while the primary is SIGKILLed; the sentinels promote the
replica and the killed node comes back as the new replica. A delivery refused with 503 is sent
again, as a helpdesk does, until it is accepted. Every accepted delivery must have its job
finished and its note and tags on the local desk: the receiver waits for the replica (``WAIT``)
before a 2xx, so an acknowledged delivery survives the fail-over."""
from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from rq import Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from fixtures_sentinel import MASTER_NAME
from fixtures_stack import wait_until
from tiergate.localdesk.zendesk import start_server
from tiergate.plugin.web import create_app
from tiergate.runtime.config import Settings
from tiergate.runtime.redis_conn import connect

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))
from chaos_traffic import chaos_manifest, signed_delivery, templates, ticket_from_template  # noqa: E402
from chaos_workers import WorkerProc, worker_env  # noqa: E402

DELIVERIES = 40
KILL_AFTER = 12          # accepted deliveries before the primary is SIGKILLed


def test_sigkilled_primary_fails_over_and_no_accepted_delivery_is_lost(sentinel_cluster, tmp_path):
    cluster = sentinel_cluster
    desk = start_server(port=0, email="sentinel@example.com", token="sentinel-token")
    settings = Settings(redis_url="redis://sentinel-managed/0", redis_sentinels=cluster.addresses,
                        redis_sentinel_master=MASTER_NAME, redis_wait_timeout=0.5, helpdesk="zendesk",
                        webhook_secret="sentinel-secret", manifest_path=chaos_manifest(tmp_path),
                        db_url=f"sqlite:///{tmp_path}/log.sqlite", **desk.settings_overrides())
    outage = next(t for t in templates() if t["external_id"] == "demo-outage")
    now = datetime.now(timezone.utc)
    tickets = [desk.import_example(ticket_from_template(outage, n), now, deliver=False) for n in range(DELIVERIES)]
    worker = WorkerProc(worker_env(settings), "sentinel-w", str(tmp_path / "worker.log")).start()
    conn = connect(settings, socket_timeout=2, socket_connect_timeout=1)
    client = create_app(settings).test_client()
    # the worker is up (spaCy loaded, registered with RQ) before the traffic starts
    wait_until(lambda: Worker.all(connection=conn) or worker.proc.poll() is not None, timeout=180, interval=0.2)
    assert worker.proc.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
    answers: Counter = Counter()
    accepted: dict[str, int] = {}           # job id -> ticket id
    failover: dict[str, int] = {}

    def chaos() -> None:
        wait_until(lambda: len(accepted) >= KILL_AFTER, timeout=120, interval=0.02)
        failover["old"] = cluster.kill_primary()
        failover["new"] = cluster.wait_for_failover(failover["old"])
        cluster.restart(failover["old"])            # comes back as the new master's replica

    chaos_thread = threading.Thread(target=chaos, daemon=True)
    try:
        chaos_thread.start()
        for n, ticket_id in enumerate(tickets):
            deadline = time.monotonic() + 120
            while True:                              # the helpdesk retries until it gets a 2xx
                body, headers = signed_delivery(ticket_id, f"sentinel-{n}", settings.webhook_secret)
                resp = client.post("/webhooks/zendesk", data=body, headers=headers)
                answers[resp.status_code] += 1
                if resp.status_code == 202:
                    accepted[resp.get_json()["job_id"]] = ticket_id
                    break
                assert resp.status_code in (503, 200), resp.get_data(as_text=True)
                if resp.status_code == 200:          # stored by an attempt answered 503 (no replica ack yet)
                    assert resp.get_json()["status"] == "duplicate"
                    accepted[f"tg-dup-{n}"] = ticket_id
                    break
                assert time.monotonic() < deadline, f"delivery {n} never accepted: {answers}"
                time.sleep(0.2)
            time.sleep(0.05)
        chaos_thread.join(timeout=120)
        assert failover.get("new") and failover["new"] != failover["old"], "the replica was promoted"
        assert answers[503] >= 1, f"deliveries were refused while the master was down: {answers}"

        def finished() -> bool:
            jobs = [j for j in accepted if not j.startswith("tg-dup-")]
            statuses = [Job.fetch(j, connection=conn, serializer=JSONSerializer).get_status() for j in jobs]
            return all(s == "finished" for s in statuses)

        def marked(ticket_id: int) -> list[str]:
            with desk.state.lock:
                return [c.get("body") or "" for c in desk.state.comments.get(ticket_id, [])
                        if not c.get("public", True) and "[tiergate:" in (c.get("body") or "")]

        wait_until(finished, timeout=240, interval=0.5)
        # a finished job may leave its write to a batch flush or a retry the scheduler runs later
        wait_until(lambda: all(marked(t) for t in set(accepted.values())), timeout=240, interval=0.5)
        assert worker.proc.poll() is None, "the worker followed the fail-over instead of exiting"
        for ticket_id in set(accepted.values()):
            assert len(marked(ticket_id)) == 1, f"ticket {ticket_id}: one escalation note, got {marked(ticket_id)}"
            tags = desk.state.tickets[ticket_id].get("tags") or ()
            assert "tg_outage" in tags and any(t.startswith("tg_fired_") for t in tags), tags
        assert set(accepted.values()) == set(tickets), "every delivery was accepted in the end"
    finally:
        worker.stop()
        desk.stop()
        log = tmp_path / "worker.log"
        if log.exists():
            print(json.dumps(answers), log.read_text()[-3000:])


def test_sentinel_settings_are_read_from_the_environment_and_bad_ones_named():
    import pytest

    from tiergate.plugin.core.errors import ConfigError
    from tiergate.runtime.redis_conn import replica_wait, sentinel_addresses

    settings = Settings.from_env({"TIERGATE_REDIS_SENTINELS": "10.0.0.1:26379, [::1]:26380",
                                  "TIERGATE_REDIS_SENTINEL_MASTER": "main", "TIERGATE_REDIS_SENTINEL_PASSWORD": "s3cret-pw",
                                  "TIERGATE_REDIS_WAIT_TIMEOUT": "0.25"})
    assert sentinel_addresses(settings.redis_sentinels) == [("10.0.0.1", 26379), ("::1", 26380)]
    assert replica_wait(settings) == (1, 250)
    assert replica_wait(Settings()) is None, "no WAIT without Sentinel"
    assert "s3cret-pw" not in repr(settings) and settings.redacted()["redis_sentinel_password"] == "***"
    with pytest.raises(ConfigError, match="TIERGATE_REDIS_SENTINELS: 'redis-a' is not host:port"):
        sentinel_addresses("redis-a")
    with pytest.raises(ConfigError, match="TIERGATE_REDIS_SENTINEL_MASTER: required"):
        connect(Settings(redis_sentinels="127.0.0.1:26379"))
    with pytest.raises(ValueError, match="TIERGATE_REDIS_WAIT_REPLICAS: 'one' is not a number"):
        Settings.from_env({"TIERGATE_REDIS_WAIT_REPLICAS": "one"})


def test_a_delivery_no_replica_acknowledged_is_refused_and_its_retry_is_a_duplicate(sentinel_cluster):
    import os
    import signal

    from rq import Queue

    cluster = sentinel_cluster
    settings = Settings(redis_url="redis://sentinel-managed/0", redis_sentinels=cluster.addresses,
                        redis_sentinel_master=MASTER_NAME, redis_wait_timeout=0.3, helpdesk="zendesk",
                        webhook_secret="sentinel-secret")
    client = create_app(settings).test_client()
    replica = next(n for n in cluster.data if n.port != cluster.master_port())
    body, headers = signed_delivery(7, "paused-1", settings.webhook_secret)
    os.kill(replica.process.pid, signal.SIGSTOP)          # the replica cannot acknowledge
    try:
        refused = client.post("/webhooks/zendesk", data=body, headers=headers)
    finally:
        os.kill(replica.process.pid, signal.SIGCONT)
    assert refused.status_code == 503 and refused.get_json()["error"] == "not_replicated"
    assert refused.headers["Retry-After"]
    retried = client.post("/webhooks/zendesk", data=body, headers=headers)   # the helpdesk's retry
    assert retried.status_code == 200 and retried.get_json()["status"] == "duplicate"
    assert Queue(settings.queue_name, connection=connect(settings)).count == 1, "stored once"
