"""Chaos run helpers: the seeded tickets, the notes tiergate wrote, and the signed webhook traffic."""
from __future__ import annotations

import json
import random
import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

from tiergate.plugin.core.manifest import read_document

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "tickets.jsonl"


# -- the account --------------------------------------------------------------------------------
def templates() -> list[dict]:
    return [json.loads(line) for line in EXAMPLES.read_text().splitlines() if line.strip()]


def ticket_from_template(template: dict, n: int) -> dict:
    """A copy with its own requester, so repeat-contact signals do not leak between tickets."""
    obj = json.loads(json.dumps(template))
    name, domain = obj["requester"]["email"].split("@", 1)
    obj["requester"]["email"] = f"{name}+c{n}@{domain}"
    obj["external_id"] = f"{template['external_id']}-c{n}"
    return obj


def chaos_manifest(tmp: Path) -> str:
    """The default manifest with an account budget that does not throttle a loopback run."""
    data = read_document(REPO / "manifest.json")
    data.setdefault("helpdesk", {})["rate_limit_per_minute"] = 100000
    path = tmp / "manifest.json"
    path.write_text(json.dumps(data))
    return str(path)


def tiergate_notes(ticket: Any) -> list[str]:
    return [c.body for c in ticket.comments if not c.public and "[tiergate:" in c.body]


def fingerprints(notes: list[str]) -> list[str]:
    out = []
    for body in notes:
        for line in body.splitlines():
            line = line.strip()
            if line.startswith("[tiergate:") and line.endswith("]"):
                out.append(line)
    return out


# -- webhooks -----------------------------------------------------------------------------------
def signed_delivery(ticket_id: int, delivery_id: str, secret: str) -> tuple[bytes, dict[str, str]]:
    from tiergate.connectors.zendesk_webhook import INVOCATION_ID_HEADER, format_timestamp, signed_headers

    # a desk's event payload differs per event (Zendesk: the event id); the same delivery resent
    # is byte-identical, so the receiver's signature-digest dedupe treats it as one
    body = json.dumps({"ticket_id": str(ticket_id), "event_id": delivery_id}).encode()
    headers = signed_headers(body, secret, format_timestamp(datetime.now(timezone.utc)))
    headers.update({"Content-Type": "application/json", "User-Agent": "Zendesk Webhook",
                    INVOCATION_ID_HEADER: delivery_id})
    return body, headers


@dataclass
class SendStats:
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    job_ids: dict[str, int] = field(default_factory=dict)     # job id -> ticket id
    lock: threading.Lock = field(default_factory=threading.Lock)


def send_all(url: str, plan: list[tuple[int, str]], secret: str, stats: SendStats, *, threads: int = 8,
             deadline: float = float("inf"), retries: int = 60) -> None:
    """POST each (ticket, delivery id); a 503 or a refused connection is retried like a helpdesk
    does, with a backoff growing to 2 s, until it is answered otherwise (or ``retries`` ran out)."""
    local = threading.local()

    def one(item: tuple[int, str]) -> None:
        if time.monotonic() > deadline:
            return
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        ticket_id, delivery_id = item
        for attempt in range(retries + 1):
            body, headers = signed_delivery(ticket_id, delivery_id, secret)
            started = time.perf_counter()
            try:
                resp = session.post(url, data=body, headers=headers, timeout=15)
                status, reason = resp.status_code, (resp.json().get("error") if resp.status_code >= 300 else None)
                answer = resp.json()
            except (requests.RequestException, ValueError) as exc:
                status, reason, answer = 0, type(exc).__name__, {}
            elapsed = time.perf_counter() - started
            with stats.lock:
                stats.sent += 1
                stats.latencies.append(elapsed)
                if status == 202:
                    stats.accepted += 1
                    stats.job_ids[answer["job_id"]] = ticket_id
                elif status == 200 and answer.get("status") == "duplicate":
                    stats.duplicates += 1
                else:
                    stats.rejected[f"{status} {reason}"] += 1
            if status != 503 and status != 0:
                return
            time.sleep(min(2.0, 0.2 * (attempt + 1)))

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, plan))


def delivery_plan(ticket_ids: list[int], webhooks: int, rng: random.Random) -> list[tuple[int, str]]:
    """``webhooks`` deliveries, every ticket at least once, 10% re-sent duplicates."""
    dups = webhooks // 10
    unique = webhooks - dups
    plan = [(ticket_ids[i % len(ticket_ids)], f"chaos-{i}-{secrets.token_hex(4)}") for i in range(unique)]
    rng.shuffle(plan)
    for _ in range(dups):
        at = rng.randrange(len(plan))
        plan.insert(min(len(plan), at + rng.randrange(1, 50)), plan[at])
    return plan


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]
