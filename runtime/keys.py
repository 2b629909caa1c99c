"""Every Redis key tiergate uses (receiver, jobs, metrics, manifest history): name, type, lifetime.

=================================================  ======  ==========================================
key                                                type    lifetime
=================================================  ======  ==========================================
``tg:dedupe:<desk>:<delivery id>``                 string  settings.dedupe_ttl (receiver, intake)
``tg:dedupe:<desk>:sig:<sha256 of signatures>``    string  settings.dedupe_ttl (receiver, intake)
``tg:waiting:<desk>:<ticket>``                     string  5 x JOB_TIMEOUT; the job a delivery joins
``tg:waiting-outcome:<desk>:<ticket>``             string  5 x JOB_TIMEOUT; the outcome job one joins
``tg:claimed:<worker>``                            hash    7 days after the last claim (pool)
``tg:lock:<desk>:<ticket>``                        string  LOCK_TIMEOUT (60 s) per-ticket lock
``tg:fired:<desk>:<ticket>``                       set     triggers fired in the open episode
``tg:last:<desk>:<ticket>``                        string  30 days; the last acting decision (JSON)
``tg:fresh:<desk>:<ticket>``                       string  24 h; epoch of the newest decided fetch
``tg:batch:pending:<desk>``                        hash    until flushed; parked decisions
``tg:batch:inflight:<desk>``                       hash    until settled; decisions being flushed
``tg:batch:flush:<desk>``                          string  STALE_INFLIGHT (130 s); a flusher waits
``tg:budget:<account>``                            hash    1 h after last use; shared rate budget
``tg:breaker:<desk>:fails``                        string  breaker WINDOW; recent failures
``tg:breaker:<desk>:trips``                        string  24 h; trips (cool-down doubles)
``tg:breaker:<desk>:open_until``                   string  cool-down cap + WINDOW; epoch seconds
``tg:timers:<desk>:<ticket>``                      hash    INDEX_TTL (24 h) after the last instant
``tg:stats:timer_lag``                             list    newest LAG_KEEP samples
``tg:sweep:cursor:<desk>``                         string  none; the incremental sweep's position
``tg:sweep:open:<desk>``                           hash    none; open tickets -> updated_at (µs)
``tg:page:sent:<fingerprint>:<channel>``           string  30 days; an on-call page went out
``tg:page:sent:<fingerprint>:<channel>:unsent``    string  30 days; its delivery job was queued
``tg:metrics:*``                                   hash    none; Prometheus counters (metrics.py)
``tg:manifest:log``                                list    none; manifest versions in force
``tg:manifest:doc:<version>``                      string  none; the document of each version
=================================================  ======  ==========================================

RQ's own keys (``rq:*``) are RQ's.
"""
from __future__ import annotations

TIMER_LAG = "tg:stats:timer_lag"
METRICS_PREFIX = "tg:metrics"
MANIFEST_LOG = "tg:manifest:log"


def manifest_doc(version: str) -> str:
    return f"tg:manifest:doc:{version}"


def dedupe_delivery(helpdesk: str, delivery_id: str) -> str:
    return f"tg:dedupe:{helpdesk}:{delivery_id}"


def dedupe_signature(helpdesk: str, digest: str) -> str:
    return f"tg:dedupe:{helpdesk}:sig:{digest}"


def waiting(helpdesk: str, ticket_id: int) -> str:
    return f"tg:waiting:{helpdesk}:{ticket_id}"


def waiting_outcome(helpdesk: str, ticket_id: int) -> str:
    return f"tg:waiting-outcome:{helpdesk}:{ticket_id}"


def claimed(owner: str) -> str:
    return f"tg:claimed:{owner}"


def lock(helpdesk: str, ticket_id: int) -> str:
    return f"tg:lock:{helpdesk}:{ticket_id}"


def fired(helpdesk: str, ticket_id: int) -> str:
    return f"tg:fired:{helpdesk}:{ticket_id}"


def last_decision(helpdesk: str, ticket_id: int) -> str:
    return f"tg:last:{helpdesk}:{ticket_id}"


def own_write(helpdesk: str, ticket_id: int) -> str:
    return f"tg:own-write:{helpdesk}:{ticket_id}"


def own_write_stamp(helpdesk: str, ticket_id: int) -> str:
    return f"tg:own-stamp:{helpdesk}:{ticket_id}"


def fresh(helpdesk: str, ticket_id: int) -> str:
    return f"tg:fresh:{helpdesk}:{ticket_id}"


def batch_pending(helpdesk: str) -> str:
    return f"tg:batch:pending:{helpdesk}"


def batch_inflight(helpdesk: str) -> str:
    return f"tg:batch:inflight:{helpdesk}"


def batch_flush(helpdesk: str) -> str:
    return f"tg:batch:flush:{helpdesk}"


def budget(account: str) -> str:
    return f"tg:budget:{account}"


def breaker(helpdesk: str, part: str) -> str:
    """``part``: ``fails``, ``trips`` or ``open_until``."""
    return f"tg:breaker:{helpdesk}:{part}"


def timer_index(helpdesk: str, ticket_id: int) -> str:
    return f"tg:timers:{helpdesk}:{ticket_id}"


def sweep_cursor(helpdesk: str) -> str:
    return f"tg:sweep:cursor:{helpdesk}"


def sweep_open(helpdesk: str) -> str:
    return f"tg:sweep:open:{helpdesk}"


def page_sent(fingerprint: str, channel_id: str) -> str:
    return f"tg:page:sent:{fingerprint}:{channel_id}"


def page_unsent(fingerprint: str, channel_id: str) -> str:
    return page_sent(fingerprint, channel_id) + ":unsent"
