"""Content fuzz at scale (issue 22): generated poison tickets through the whole worker path, and
the enrichment time of the worst single tickets.

``python bench/bench_fuzz.py [--tickets 10000] [--batch 100] [--workers 1] [--minutes M] [--json]``
Loopback only, bounded in time. A private redis-server, the local Zendesk-compatible server, the
real receiver and ``--workers`` real ``tiergate worker`` processes (the default manifest;
decisions park and go out through update_many whenever the backlog passes 50 jobs). Tickets come
from the hypothesis strategies of ``tests/test_content_fuzz.py`` (profile "bench": random Unicode
with lone surrogates, emoji, RTL and zero-width marks, controls, HTML soup, binary-looking text,
empty fields; now and then deeply nested markup, a text of up to 11 MB or up to 3,000 comments),
imported ``--batch`` at a time; each batch waits until every ticket is decided and no delivery,
retry or flush job is left, then its tickets are deleted from the desk (so the desk's memory
stays flat; a later timer job for a deleted ticket fails with NotFound by design and is counted
apart). ``--minutes`` (or SIGUSR1) ends the run after the batch in hand, with the report (and
exit code 1). Reported: tickets decided, failed jobs, content errors caught (worker log), worker
RSS (parent at start / end / peak, largest work-horse), tickets/s.

The second part times ``jobs.ticket_decision`` enrichment (clean, bound, enrich) in this process on a
10.8-11 MB description (a log, HTML, or 200,000 distinct sentences with risk phrases), 3,000
comments, a 10 MB base64 blob and 200,000-deep markup, each against an ordinary ticket measured
alongside, and quotes the budget sentence of its reasons.
``run(quick)`` (bench/run.py): 200 tickets in batches of 50, and the timings.
"""
from __future__ import annotations

import argparse
import base64
import dataclasses
import itertools
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROUND = 500                # tickets generated per hypothesis run (seeded by its first ticket's number)
MAX_OWN_RSS_MB = 6_000     # the in-process desk holds a batch of tickets; stop well before the box
sys.path[:0] = [str(REPO / "tests"), str(REPO / "bench")]
os.environ.setdefault("TIERGATE_FUZZ", "bench")


def _status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM of a process in MB (empty when it is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1]) // 1024
    except OSError:
        pass
    return out


class RssWatch(threading.Thread):
    """Samples the worker processes and their work-horses once a second."""

    def __init__(self, workers):
        super().__init__(daemon=True)
        self.workers, self.horse_peak, self.stop_flag = workers, 0, threading.Event()

    def run(self):
        while not self.stop_flag.wait(1.0):
            for w in self.workers:
                for pid in w.horses():
                    self.horse_peak = max(self.horse_peak, _status(pid).get("VmRSS", 0))


class _Enough(KeyboardInterrupt):
    """Ends hypothesis' example loop at once when the run is stopped."""


def fuzz(tickets: int, batch: int, workers: int = 1, log=print, minutes: float = 0) -> dict:
    from hypothesis import HealthCheck, given, seed, settings
    from rq.exceptions import NoSuchJobError
    from rq.job import Job
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry
    from rq.serializers import JSONSerializer

    from chaos import WorkerProc, worker_env
    from fixtures_stack import build_stack
    from test_content_fuzz import PROFILES, tickets as strategy
    from test_poison_worker import seed_owners
    from tiergate.jobs.memory import return_large_blocks
    from tiergate.jobs.state import load_summary
    from tiergate.plugin.embedded import start_redis

    return_large_blocks()                 # the in-process desk holds and frees multi-MB texts too

    tmp = Path(tempfile.mkdtemp(prefix="tg-fuzz-"))
    server = start_redis()
    stack, close = build_stack("zendesk", server.url, tmp)
    seed_owners(stack)
    env = worker_env(stack.settings, {"TIERGATE_BATCH_THRESHOLD": "50"})
    procs = [WorkerProc(env, f"fuzz{i}", str(tmp / f"worker{i}.log")).start() for i in range(workers)]
    from rq import Worker

    deadline = time.monotonic() + 120                     # each worker loads spaCy once
    while Worker.count(connection=stack.conn) < workers and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(1)
    start_rss = [_status(p.proc.pid).get("VmRSS", 0) for p in procs]
    scheduled = ScheduledJobRegistry(queue=stack.queue)
    watch = RssWatch(procs)
    watch.start()
    totals = dict(generated=0, imported=0, refused=0, decided=0, undecided=0, batches=0)
    deleted: set[int] = set()
    pending: list[dict] = []
    stopped: list[str] = []
    began = time.monotonic()

    def work(objs: list[dict]) -> None:
        if _status(os.getpid()).get("VmRSS", 0) > MAX_OWN_RSS_MB:     # the desk's memory
            raise RuntimeError(f"bench process above {MAX_OWN_RSS_MB} MB: stopped")
        ids = []
        for obj in objs:
            try:
                ids.append(stack.desk.import_example(obj, datetime.now(timezone.utc)))
            except Exception:  # noqa: BLE001 - the desk refused it (e.g. no comment at all)
                totals["refused"] += 1
        totals["imported"] += len(ids)
        log(f"  imported {len(ids)} tickets ({time.monotonic() - began:.0f}s)")
        waiting, last, progress = set(ids), time.monotonic(), len(ids)
        while waiting and time.monotonic() - last < 180:
            waiting = {t for t in waiting if load_summary(stack.conn, "zendesk", t) is None}
            if len(waiting) < progress:
                progress, last = len(waiting), time.monotonic()
            time.sleep(0.5)
        totals["decided"] += len(ids) - len(waiting)
        totals["undecided"] += len(waiting)
        totals["batches"] += 1
        quiet = time.monotonic() + 120        # later deliveries for these tickets run first
        while time.monotonic() < quiet and (any(
                not j.startswith("tg-sweep") for j in   # the periodic sweep never leaves the queue
                [*stack.queue.get_job_ids(), *stack.queue.started_job_registry.get_job_ids()])
                or any(j.startswith(("tg-retry", "tg-flush")) for j in scheduled.get_job_ids())):
            time.sleep(0.5)
        for t in ids:
            stack.desk.handle.delete_ticket(t)
            deleted.add(t)
        log(f"batch {totals['batches']}: {totals['decided']}/{totals['imported']} decided, "
            f"{totals['undecided']} not, {time.monotonic() - began:.0f}s, worker RSS "
            f"{[_status(p.proc.pid).get('VmRSS') for p in procs]} MB, horse peak {watch.horse_peak} MB")

    def one(obj):
        if stopped:                       # an error ends the run; hypothesis must not shrink it
            raise _Enough                 # (a KeyboardInterrupt: hypothesis lets it through)
        totals["generated"] += 1
        pending.append(obj)
        if len(pending) >= batch:
            try:
                work(pending[:])
            except Exception as exc:  # noqa: BLE001 - reported, never re-raised into hypothesis
                stopped.append(f"{type(exc).__name__}: {exc}")
            pending.clear()

    def ended(*_):                        # SIGTERM: no worker or server outlives the bench
        for p in procs:
            p.stop()
        close()
        server.stop()
        os._exit(143)

    def enough(*_):                       # SIGUSR1 or --minutes: no new batch, report as usual
        stopped.append("ended early (SIGUSR1 or --minutes)")

    signal.signal(signal.SIGTERM, ended)
    signal.signal(signal.SIGUSR1, enough)
    if minutes:
        timer = threading.Timer(minutes * 60, enough)
        timer.daemon = True
        timer.start()
    try:
        try:
            for round_ in range(0, tickets, ROUND):   # a fresh engine per round: hypothesis keeps
                if stopped:                           # about 1 MB per example it has run
                    break
                seed(round_)(settings(max_examples=min(ROUND, tickets - round_), deadline=None,
                                      database=None, suppress_health_check=list(HealthCheck))(
                    given(obj=strategy(PROFILES["bench"]))(one)))()
        except _Enough:
            pass
        if pending and not stopped:
            work(pending)
        time.sleep(3)
        end_rss = [_status(p.proc.pid) for p in procs]
        registry = FailedJobRegistry(queue=stack.queue)
        failed, after_delete, reasons = 0, 0, {}
        for job_id in registry.get_job_ids():
            try:
                job = Job.fetch(job_id, connection=stack.conn, serializer=JSONSerializer)
            except NoSuchJobError:            # its hash expired: only the registry entry is left
                reasons["(expired job)"] = reasons.get("(expired job)", 0) + 1
                failed += 1
                continue
            result = job.latest_result()
            why = ((result.exc_string if result else "") or "").strip().splitlines()[-1:] or ["?"]
            tid = (job.args[0] or {}).get("ticket_id") if job.args else None
            if "NotFound" in why[0] and tid in deleted:
                after_delete += 1
                continue
            failed += 1
            reasons[why[0][:160]] = reasons.get(why[0][:160], 0) + 1
        caught = sum(p.log_path and Path(p.log_path).read_text(errors="replace").count("content error")
                     for p in procs)
    finally:
        watch.stop_flag.set()
        for p in procs:
            p.stop()
        close()
        server.stop()
    elapsed = time.monotonic() - began
    return {**totals, "stopped": stopped[0] if stopped else None, "failed_jobs": failed, "failed_reasons": reasons,
            "notfound_after_delete": after_delete, "content_errors_caught": caught,
            "seconds": round(elapsed, 1), "tickets_per_s": round(totals["imported"] / elapsed, 2),
            "worker_rss_start_mb": max(start_rss), "worker_rss_end_mb": max(r.get("VmRSS", 0) for r in end_rss),
            "worker_rss_peak_mb": max(r.get("VmHWM", 0) for r in end_rss), "horse_rss_peak_mb": watch.horse_peak}


def _ticket(now, comments, description="I cannot log in since Monday", subject="Login"):
    from tiergate.plugin.core.model import Comment, Ticket

    return Ticket(id=1, subject=subject, description=description, status="open", priority="normal",
                  type=None, group_id=101, assignee_id=None, requester_id=5, organization_id=None,
                  tags=(), channel="web", created_at=now - timedelta(hours=5), updated_at=now,
                  comments=tuple(Comment(i, 5 if i % 3 else 201, "end-user" if i % 3 else "agent",
                                         body, True, now - timedelta(minutes=len(comments) - i))
                                 for i, body in enumerate(comments)))


def timings(repeat: int = 3) -> list[dict]:
    """Clean + bound + enrich (``jobs.ticket_decision._cleaned`` / ``_enrich``, the worker's enricher
    for the default manifest) of the worst tickets, each next to an ordinary ticket timed in the
    same process; every repetition gets new words, so no cache answers."""
    from tiergate.jobs import ticket_decision
    from tiergate.jobs.runtime import Runtime
    from tiergate.jobs.runtime import enricher_for
    from tiergate.plugin.core.manifest import default_manifest_path, load_manifest

    now = datetime(2024, 5, 8, 14, 0, tzinfo=timezone.utc)
    rt = Runtime(settings=None, conn=None, connector=None, manifests=None)
    enricher = enricher_for(load_manifest(default_manifest_path()))     # the worker's
    runs = (f"run{k}" for k in itertools.count())
    rng = random.Random(7)
    log_line = "2024-05-06 10:00:00 ERROR auth failed for user 42 at gateway 7\n"
    html_row = ("<tr><td>2024-05-06 10:00:00</td><td class='err'>ERROR auth failed for user 42 "
                "&amp; gateway 7</td></tr>\n")
    cases = {
        "10.8 MB description": _ticket(now, ["I cannot log in, log below\n" +
                                             log_line * (10_800_000 // len(log_line))]),
        "11 MB HTML description": _ticket(now, [
            "<html><body><p>I cannot log in, log below</p><table>" +
            html_row * (11_000_000 // len(html_row)) + "</table></body></html>"]),
        "11 MB of distinct risk sentences": _ticket(now, ["".join(
            f"Order {i}: you charged me twice and I cannot log in. " for i in range(200_000))]),
        "3,000 comments": _ticket(now, [f"Update {i}: I still cannot log in, attempt {i}" if i % 3
                                        else f"Agent reply {i}" for i in range(3000)]),
        "10 MB base64 blob": _ticket(now, ["see attachment\n" + base64.b64encode(
            rng.randbytes(7_500_000)).decode()]),
        "200,000-deep markup": _ticket(now, ["<div>" * 200_000 + "I cannot log in" + "</div>" * 200_000]),
    }
    ordinary = _ticket(now, ["I cannot log in since Monday, please help", "Still broken!"])

    def clock(ticket) -> tuple[float, object]:
        best, out = float("inf"), None
        for _ in range(repeat):
            enricher._cache.clear()
            fresh = next(runs)             # new words: no per-text cache answers for the pipeline
            ticket = dataclasses.replace(ticket, comments=tuple(
                dataclasses.replace(c, body=f"{fresh} {c.body}") for c in ticket.comments))
            t = time.perf_counter()
            out = ticket_decision._enrich(rt, enricher, ticket_decision._cleaned(rt, ticket), now)
            best = min(best, time.perf_counter() - t)
        return best, out

    clock(ordinary)
    rows = []
    for name, ticket in cases.items():
        base, _ = clock(ordinary)
        took, enrichment = clock(ticket)
        said = [r.detail for r in enrichment.reasons if r.signal in ("text_budget", "unreadable")]
        rows.append({"name": f"fuzz.enrich {name}", "value": round(took, 3), "unit": "s",
                     "baseline": round(base, 4), "ratio": round(took / base, 1),
                     "note": said[0] if said else "(whole text analysed)"})
    return rows


def rows_of(result: dict) -> list[dict]:
    n = result["imported"]
    return [
        {"name": "fuzz.tickets decided", "value": result["decided"], "unit": "tickets",
         "baseline": n, "ratio": round(result["decided"] / n, 4) if n else None},
        {"name": "fuzz.failed jobs", "value": result["failed_jobs"], "unit": "jobs", "baseline": n,
         "ratio": round(result["failed_jobs"] / n, 4) if n else None},
        {"name": "fuzz.content errors caught", "value": result["content_errors_caught"],
         "unit": "errors", "baseline": n, "ratio": None},
        {"name": "fuzz.worker RSS end (start = baseline)", "value": result["worker_rss_end_mb"],
         "unit": "MB", "baseline": result["worker_rss_start_mb"],
         "ratio": round(result["worker_rss_end_mb"] / max(1, result["worker_rss_start_mb"]), 2)},
        {"name": "fuzz.work-horse RSS peak (worker start = baseline)",
         "value": result["horse_rss_peak_mb"], "unit": "MB", "baseline": result["worker_rss_start_mb"],
         "ratio": round(result["horse_rss_peak_mb"] / max(1, result["worker_rss_start_mb"]), 2)},
        {"name": "fuzz.tickets per second", "value": result["tickets_per_s"], "unit": "tickets/s",
         "baseline": None, "ratio": None},
    ]


def run(quick: bool) -> list[dict]:
    result = fuzz(200 if quick else 10_000, 50 if quick else 100, log=lambda s: None)
    return rows_of(result) + timings(1 if quick else 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=0,
                        help="end after the batch running then (also on SIGUSR1), with the report")
    parser.add_argument("--no-timings", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = fuzz(args.tickets, args.batch, args.workers, minutes=args.minutes,
                  log=(lambda s: print(s, file=sys.stderr)))
    rows = rows_of(result) + ([] if args.no_timings else timings())
    if args.json:
        print(json.dumps({"result": result, "rows": rows}, indent=2))
        return
    print(json.dumps(result, indent=2))
    for r in rows:
        print(f"{r['name']:52s} {r['value']!s:>10} {r['unit']:9s} baseline {r['baseline']!s:>9} "
              f"ratio {r['ratio']!s:>7}  {r.get('note', '')}")
    if result["failed_jobs"] or result["undecided"] or result["stopped"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
