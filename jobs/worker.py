"""``tiergate worker``: an RQ worker (with scheduler) that loads the manifest and the spaCy
pipeline once in its parent process, so every forked job starts warm."""
from __future__ import annotations

import logging
import sys

import click
from rq import Worker
from rq.serializers import JSONSerializer

from tiergate.plugin.config import Settings


def make_worker(settings: Settings, *, name: str | None = None) -> Worker:
    from tiergate.jobs.queues import queue
    from tiergate.jobs.runtime import build_runtime, set_runtime

    runtime = build_runtime(settings)
    runtime.enricher(runtime.manifest())          # warm: forked jobs inherit the pipeline
    set_runtime(runtime)
    return Worker([queue(runtime.conn, settings)], connection=runtime.conn,
                  serializer=JSONSerializer, name=name)


@click.command()
@click.option("--burst", is_flag=True, help="Exit when the queue is empty (tests, one-off runs).")
@click.option("--name", default=None, help="Worker name (default: RQ's).")
@click.option("--log-level", default="INFO", show_default=True)
def worker(burst: bool, name: str | None, log_level: str) -> None:
    """Run a worker: re-fetch, enrich, decide and write back, plus due SLA timers.

    Configured by REDIS_URL, TIERGATE_MANIFEST and the helpdesk variables (ZENDESK_*).
    """
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings.from_env()
    logging.getLogger("tiergate").info("worker settings %s", settings.redacted())
    try:
        w = make_worker(settings, name=name)
    except Exception as exc:  # a bad manifest or unreachable Redis: one clear line, exit 2
        click.echo(f"tiergate worker: cannot start: {exc}", err=True)
        sys.exit(2)
    w.work(with_scheduler=True, burst=burst, logging_level=log_level.upper())
