"""A local Zendesk-compatible server: the helpdesk of the demo, the tests and the benchmarks.

``start_server(port=0, **knobs) -> ServerHandle`` runs a threaded werkzeug server on 127.0.0.1 in
a background thread. Responses follow real Zendesk shapes (zenpy's ``specification/zendesk``)
so zenpy talks to it unchanged via ``ZENPY_FORCE_SCHEME=http`` / ``ZENPY_FORCE_NETLOC``.
Everything lives in memory in one ``State`` guarded by one lock.

Modules: ``server`` (start_server, ServerHandle), ``app`` (the Flask app: gate, control plane),
``store`` (State) composed of ``directory``, ``tickets``, ``comments``, ``triggers``, ``webhooks``;
views also in ``jobs`` (update_many), ``incremental`` (export, search), ``admin`` (collections);
``delivery`` (the webhook sender), ``account`` (the demo account, knobs).

Behaviour worth knowing:
- Basic auth ``email/token:TOKEN`` on ``/api/v2`` (401 otherwise); ``/_control`` needs none.
- Stamps are whole seconds (``2026-01-01T00:00:00Z``) like Zendesk's. Every ticket write appends
  an audit and moves ``updated_at`` forward; a ticket's second write within the same second gets
  the next second as its ``updated_at`` (its comment and audit keep the wall time), so each
  write has its own stamp and ``safe_update`` + ``updated_stamp`` tells any two writes apart (409).
- Shapes are held to real recorded Zendesk answers (``tests/test_zendesk_cassette_shapes.py``):
  cursor pagination (``page[size]``/``page[after]``, opaque cursors, ``meta``/``links``; the
  webhooks list always, in the webhooks API's form), offset pagination otherwise, the webhook
  test answer ``{"response": {"headers", "status_code", "payload"}}``, webhooks without their
  credentials, triggers with ``conditions`` (legacy top-level ``all``/``any`` folded in).
- Ticket creation through the API, and every update, evaluates the active triggers (conditions
  ``update_type``, ``comment_is_public``, ``current_via_id``, ``role``, ``status``/``priority``/
  ``group_id``/``assignee_id``/``satisfaction_score`` with is/is_not/changed/not_changed/value/
  value_previous, ``current_tags``) and sends each ``notification_webhook`` action's body, signed like Zendesk,
  from background sender threads with retries. Event-subscribed webhooks get
  ``zen:event-type:ticket.created|comment_added|group_assignment_changed|status_changed|
  priority_changed|agent_assignment_changed|tags_changed`` payloads. Like real Zendesk,
  ``POST /api/v2/imports/tickets`` runs no triggers; ``ServerHandle.import_example`` does
  (``deliver=True``) because the demo wants the "ticket created" webhook.
- Knobs (``handle.set_knobs`` or ``POST /_control/knobs``): ``rate_limit_per_minute`` (per
  account, sliding minute; 429 + ``Retry-After``), ``latency_ms``, ``conflict_next`` (next N
  single-ticket updates answer 409), ``fail_next`` + ``fail_status`` (next N API requests answer
  5xx), ``fail_rate`` (probability), ``delivery_retries``, ``delivery_backoff`` (seconds),
  ``seed`` (for ``fail_rate``).
"""
from tiergate.localdesk.zendesk.server import ServerHandle, start_server

__all__ = ["ServerHandle", "start_server"]
