"""Deliveries become RQ jobs; deliveries for a ticket whose job still waits join that job."""
from __future__ import annotations

from tiergate.connectors.base import Delivery
from tiergate.jobs.intake import enqueue_delivery
from tiergate.jobs.queues import claim_waiting, queue
from tiergate.runtime.config import Settings


def delivery(ticket_id: int, delivery_id: str) -> Delivery:
    return Delivery(delivery_id=delivery_id, ticket_id=ticket_id, event_type="trigger", helpdesk="zendesk")


def test_deliveries_for_a_waiting_ticket_join_its_job(redis_conn, redis_url):
    settings = Settings(redis_url=redis_url)
    q = queue(redis_conn, settings)
    first = enqueue_delivery(redis_conn, delivery(7, "d1"), settings)
    assert enqueue_delivery(redis_conn, delivery(7, "d2"), settings) == first
    other = enqueue_delivery(redis_conn, delivery(8, "d1"), settings)
    assert other != first and q.count == 2
    # once the job has started (claimed before its fetch), a new delivery needs a new job
    claim_waiting(redis_conn, "zendesk", 7, first)
    later = enqueue_delivery(redis_conn, delivery(7, "d3"), settings)
    assert later not in (first, other) and q.count == 3


def test_a_stale_waiting_marker_does_not_swallow_deliveries(redis_conn, redis_url):
    settings = Settings(redis_url=redis_url)
    first = enqueue_delivery(redis_conn, delivery(9, "d1"), settings)
    queue(redis_conn, settings).remove(first)
    redis_conn.delete(f"rq:job:{first}")             # the job is gone but its marker stayed
    again = enqueue_delivery(redis_conn, delivery(9, "d2"), settings)
    assert again != first and queue(redis_conn, settings).count == 1


def test_claim_by_another_job_leaves_the_marker(redis_conn, redis_url):
    settings = Settings(redis_url=redis_url)
    first = enqueue_delivery(redis_conn, delivery(10, "d1"), settings)
    claim_waiting(redis_conn, "zendesk", 10, "some-other-job")
    assert enqueue_delivery(redis_conn, delivery(10, "d2"), settings) == first
