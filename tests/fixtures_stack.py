"""The whole path on real parts for end-to-end tests: a private Redis, a local helpdesk server,
the receiver on a real socket, and real RQ workers (burst mode, forking per job)."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import pytest
from redis import Redis
from rq import Worker
from rq.serializers import JSONSerializer

from tiergate.runtime.config import Settings
from tiergate.plugin.embedded import serve_wsgi


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@dataclass
class Stack:
    desk: Any                 # plugin.helpdesks.Local* (has .handle, .import_example, ...)
    settings: Settings
    conn: Redis
    receiver_url: str
    runtime: Any

    @property
    def helpdesk(self) -> str:
        return self.settings.helpdesk

    @property
    def queue(self):
        from tiergate.jobs.queues import queue

        return queue(self.conn, self.settings)

    def import_and_wait_for_job(self, example: dict, now: datetime | None = None) -> int:
        """Import a ticket; the helpdesk delivers a signed webhook; wait until it is queued."""
        before = self.queue.count
        ticket_id = self.desk.import_example(example, now or datetime.now(timezone.utc))
        wait_until(lambda: self.queue.count > before)
        return ticket_id

    def work(self, *, with_scheduler: bool = False, max_jobs: int | None = None) -> None:
        """Run a real RQ worker in burst mode until the queue is empty."""
        from tiergate.jobs.runtime import set_runtime

        set_runtime(self.runtime)
        worker = Worker([self.queue], connection=self.conn, serializer=JSONSerializer,
                        name=f"test-{secrets.token_hex(4)}")
        worker.work(burst=True, with_scheduler=with_scheduler, max_jobs=max_jobs,
                    logging_level="WARNING")

    def connector(self):
        return self.runtime.connector


def build_stack(helpdesk: str, redis_url: str, tmp_path, manifest_path: str | None = None) -> tuple[Stack, Callable]:
    from tiergate.jobs.runtime import build_runtime
    from tiergate.plugin import helpdesks
    from tiergate.plugin.web import create_app

    desk = helpdesks.local_or_configured(helpdesk)
    secret = secrets.token_hex(16)
    settings = Settings.from_env({}, redis_url=redis_url, helpdesk=helpdesk, webhook_secret=secret,
                                 admin_token="test-admin-token", manifest_path=manifest_path,
                                 db_url=f"sqlite:///{tmp_path}/log.sqlite", **desk.settings_overrides())
    http = serve_wsgi(create_app(settings))
    receiver = f"http://127.0.0.1:{http.server_port}"
    helpdesks.install(desk, helpdesk, receiver, secret)
    runtime = build_runtime(settings)
    stack = Stack(desk=desk, settings=settings, conn=Redis.from_url(redis_url),
                  receiver_url=receiver, runtime=runtime)

    def close():
        http.shutdown()
        desk.stop()

    return stack, close


@pytest.fixture(params=["zendesk", "zammad"])
def stack(request, redis_conn, redis_url, tmp_path):
    """The whole path, once per helpdesk connector."""
    built, close = build_stack(request.param, redis_url, tmp_path)
    yield built
    close()


@pytest.fixture
def zendesk_stack(redis_conn, redis_url, tmp_path):
    built, close = build_stack("zendesk", redis_url, tmp_path)
    yield built
    close()
