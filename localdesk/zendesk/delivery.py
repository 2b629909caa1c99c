"""The local Zendesk's webhook sender: background threads that POST queued deliveries, signed like
Zendesk, retrying failures with backoff."""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import TYPE_CHECKING

import requests

from tiergate.connectors.zendesk_webhook import (INVOCATION_ID_HEADER, WEBHOOK_ID_HEADER, format_timestamp,
                                                 signed_headers)
from tiergate.localdesk.zendesk.records import utcnow

if TYPE_CHECKING:
    from tiergate.localdesk.zendesk.store import State


class Sender:
    """Background threads that POST queued webhook deliveries, retrying failures with backoff."""

    def __init__(self, state: State, threads: int = 4, timeout: float = 10.0):
        self.state, self.timeout = state, timeout
        self._heap: list[tuple[float, int, dict]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._inflight = 0
        self._stopping = False
        self._local = threading.local()      # one requests.Session per sender thread
        self._threads = [threading.Thread(target=self._run, name=f"zendesk-sender-{i}", daemon=True)
                         for i in range(threads)]
        for t in self._threads:
            t.start()

    def put(self, job: dict, delay: float = 0.0) -> None:
        with self._cv:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), job))
            self._cv.notify()

    def wait(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or in flight; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._heap or self._inflight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(min(left, 0.05))
            return True

    def clear(self) -> None:
        """Drop queued deliveries and pending retries (in-flight ones finish)."""
        with self._cv:
            self._heap.clear()
            self._cv.notify_all()

    def stop(self) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        for t in self._threads:
            t.join(timeout=2)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stopping and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cv.wait(0.05 if not self._heap else max(0.0, self._heap[0][0] - time.monotonic()))
                if self._stopping:
                    return
                _, _, job = heapq.heappop(self._heap)
                self._inflight += 1
            try:
                self._send(job)
            finally:
                with self._cv:
                    self._inflight -= 1
                    self._cv.notify_all()

    def _send(self, job: dict) -> None:
        body = job["body"].encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Zendesk Webhook",
                   WEBHOOK_ID_HEADER: job["webhook_id"], INVOCATION_ID_HEADER: job["invocation_id"],
                   **signed_headers(body, job["secret"], format_timestamp(utcnow()))}
        with self.state.lock:
            job["attempts"] += 1
            retries, backoff = self.state.knobs["delivery_retries"], self.state.knobs["delivery_backoff"]
        try:
            if not hasattr(self._local, "session"):
                self._local.session = requests.Session()
            r = self._local.session.request(job["method"], job["endpoint"], data=body, headers=headers, timeout=self.timeout)
            status, error = r.status_code, None if r.status_code < 400 else r.text[:200]
        except requests.RequestException as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"
        retryable = status is None or status >= 500 or status == 429
        again = bool(error) and retryable and job["attempts"] <= retries
        with self.state.lock:
            job["status"], job["error"], job["ok"] = status, error, error is None
            if not again:
                job["body"] = None          # delivered or given up: only its record is kept
        if again:
            self.put(job, delay=backoff * (2 ** (job["attempts"] - 1)))
