"""The local Zammad's webhook deliveries: a thread posting the outbox, signed like Zammad, with
up to 4 retries, and the counting outbox ``wait_deliveries`` relies on."""
from __future__ import annotations

import queue
import threading
import time
import uuid

import requests

from tiergate.connectors import zammad_webhook
from tiergate.localdesk.zammad.desk import Desk


class Delivery(threading.Thread):
    """Posts queued webhook deliveries; up to 4 retries, like Zammad."""

    def __init__(self, desk: Desk):
        super().__init__(daemon=True, name="zammad-webhooks")
        self.desk = desk
        self.session = requests.Session()
        self.pending = 0
        self.cond = threading.Condition()

    def run(self) -> None:
        while True:
            job = self.desk.outbox.get()
            if job is None:
                return
            try:
                self._send(job)
            finally:
                with self.cond:
                    self.pending -= 1
                    self.cond.notify_all()

    def _send(self, job: dict) -> None:
        hook = job["webhook"]
        delivery_id = str(uuid.uuid4())
        body = job["payload"]
        if hook.get("signature_token"):
            headers = zammad_webhook.signed_headers(body, hook["signature_token"], delivery_id, job["trigger"])
        else:
            headers = {"Content-Type": "application/json", "User-Agent": zammad_webhook.USER_AGENT,
                       zammad_webhook.TRIGGER_HEADER: job["trigger"],
                       zammad_webhook.DELIVERY_HEADER: delivery_id}
        record = {"delivery_id": delivery_id, "webhook_id": hook["id"], "trigger": job["trigger"],
                  "ticket_id": job["ticket_id"], "endpoint": hook["endpoint"], "attempts": 0,
                  "status": None, "error": None}
        for attempt in range(5):
            record["attempts"] = attempt + 1
            try:
                resp = self.session.post(hook["endpoint"], data=body, headers=headers, timeout=10)
                record["status"], record["error"] = resp.status_code, None
                if resp.status_code < 500 and resp.status_code != 429:
                    break
            except requests.RequestException as exc:
                record["error"] = str(exc)
            time.sleep(0.05 * (2 ** attempt))
        with self.desk.state.lock:
            self.desk.state.deliveries.append(record)



class CountingQueue(queue.Queue):
    """Outbox that tells the delivery thread how many jobs are pending (for ``wait_deliveries``)."""

    def __init__(self, delivery_ref: list):
        super().__init__()
        self._ref = delivery_ref

    def put(self, item, block=True, timeout=None):
        if item is not None and self._ref:
            with self._ref[0].cond:
                self._ref[0].pending += 1
        super().put(item, block, timeout)
