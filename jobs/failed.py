"""``tiergate failed list|retry|purge``: jobs that kept failing (the dead-letter list), with their
reason, and the jobs still waiting to be retried (rescheduled through a vendor outage, a rate
limit or an open circuit breaker), with why, their attempt and when they run next."""
from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Iterator

import click
from rq import get_current_job
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.serializers import JSONSerializer

from tiergate.jobs import breaker
from tiergate.jobs.queues import queue
from tiergate.runtime.config import Settings
from tiergate.runtime.redis_conn import connect


@contextmanager
def final_on_error() -> Iterator[None]:
    """Inside an RQ job: an exception raised here fails the job at once, with its reason, even
    when the job was enqueued with a ``Retry`` (that ``Retry`` exists only so RQ re-runs a job
    whose worker died mid-way; transient errors have their own policy in ``jobs.process``)."""
    try:
        yield
    except BaseException:
        try:
            job = get_current_job()
            if job is not None:
                job.retries_left = 0
        except Exception:  # noqa: BLE001 - never mask the real error
            pass
        raise


def _registry(settings: Settings) -> FailedJobRegistry:
    conn = connect(settings)
    return FailedJobRegistry(queue=queue(conn, settings))


def failed_jobs(settings: Settings) -> list[dict]:
    """Each failed job: id, what it was for, when it ended and the last line of its error."""
    registry = _registry(settings)
    rows = []
    for job_id in registry.get_job_ids():
        job = Job.fetch(job_id, connection=registry.connection, serializer=JSONSerializer)
        error = (job.latest_result().exc_string if job.latest_result() else "") or ""
        lines = [ln for ln in error.strip().splitlines() if ln.strip()]
        rows.append({"id": job.id, "description": job.description,
                     "ended_at": job.ended_at.isoformat() if job.ended_at else None,
                     "reason": lines[-1] if lines else "unknown", "args": job.args})
    return rows


def waiting_jobs(settings: Settings) -> list[dict]:
    """Each rescheduled job waiting in the scheduled registry: ticket, attempt, why, next run,
    first failure."""
    q = queue(connect(settings), settings)
    registry = ScheduledJobRegistry(queue=q)
    rows = []
    for job_id in registry.get_job_ids():
        job = q.fetch_job(job_id)
        if job is None:
            continue
        payload = job.args[0] if job.args and isinstance(job.args[0], dict) else {}
        when = registry.get_scheduled_time(job_id)
        rows.append({"id": job_id, "description": job.description, "helpdesk": payload.get("helpdesk"),
                     "ticket_id": payload.get("ticket_id"), "attempt": payload.get("attempt"),
                     "why": payload.get("why", "scheduled"), "first_failed_at": payload.get("first_failed_at"),
                     "next_run_at": when.isoformat() if when else None})
    return sorted(rows, key=lambda r: r["next_run_at"] or "")


def breakers(settings: Settings) -> list[dict]:
    conn = connect(settings)
    return [breaker.status(conn, desk) for desk in sorted({settings.helpdesk, "zendesk", "zammad"})]


@click.group()
def failed() -> None:
    """Manage jobs in the failed registry."""


@failed.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    """List failed jobs with their reason, then the jobs waiting for a retry and why."""
    settings = Settings.from_env()
    rows, waiting, desks = failed_jobs(settings), waiting_jobs(settings), breakers(settings)
    if as_json:
        click.echo(json.dumps([{**r, "state": "failed"} for r in rows] + [{**r, "state": "waiting"} for r in waiting],
                              indent=2, default=str))
        return
    for row in rows:
        click.echo(f"{row['id']}  {row['ended_at']}  {row['description']}\n    {row['reason']}")
    for row in waiting:
        click.echo(f"waiting {row['id']}  next {row['next_run_at']}  ticket {row['ticket_id']}  "
                   f"attempt {row['attempt']}\n    {row['why']}")
    for desk in desks:
        if desk["open"]:
            click.echo(f"circuit open: {desk['helpdesk']} paused until {desk['open_until']:.0f} "
                       f"(trip {desk['trips']})")
    click.echo(f"{len(waiting)} waiting job(s)")
    click.echo(f"{len(rows)} failed job(s)")


@failed.command()
@click.argument("job_ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Retry every failed job.")
def retry(job_ids: tuple[str, ...], all_: bool) -> None:
    """Put failed jobs back on the queue."""
    registry = _registry(Settings.from_env())
    ids = registry.get_job_ids() if all_ else list(job_ids)
    if not ids:
        raise click.UsageError("name job ids or pass --all")
    for job_id in ids:
        registry.requeue(job_id)
    click.echo(f"requeued {len(ids)} job(s)")


@failed.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge(yes: bool) -> None:
    """Delete every failed job."""
    registry = _registry(Settings.from_env())
    ids = registry.get_job_ids()
    if ids and not yes:
        click.confirm(f"delete {len(ids)} failed job(s)?", abort=True)
    for job_id in ids:
        registry.remove(job_id, delete_job=True)
    click.echo(f"purged {len(ids)} job(s)")
