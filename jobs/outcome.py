"""How a job ended: the ``status`` of its result and the ``outcome`` label of ``tiergate_jobs_total``."""
from __future__ import annotations

from enum import Enum


class Outcome(str, Enum):
    """Serialised as its value (job results are JSON, metric labels are text)."""

    APPLIED = "applied"            # the decision was written back
    UNCHANGED = "unchanged"        # the decision writes nothing
    PARKED = "parked"              # left for the bulk flusher (``jobs.batching``)
    SUPERSEDED = "superseded"      # a newer fetch already decided on this delivery
    OWN_WRITE = "own_write"        # the delivery was raised by tiergate's own last write
    RESCHEDULED = "rescheduled"    # queued again later (rate limit, busy, unavailable, circuit open)
    FLUSHED = "flushed"            # a bulk flush ran
    EARLY = "early"                # a timer job ran early and re-scheduled itself
    STALE = "stale"                # a timer whose instant is no longer planned
    FIRED = "fired"                # a due timer woke the decision
    SENT = "sent"                  # an on-call page went out
    ALREADY_SENT = "already_sent"  # that page had been sent before
    RECORDED = "recorded"          # a ticket's outcome (solved, reopened, rated) read into the decision log

    def __str__(self) -> str:
        return self.value
