"""A local Zammad-compatible server for tests and the demo (Flask in a thread, real HTTP).

It implements the slice of Zammad's REST API v1 tiergate uses, in Zammad's shapes:
tickets (``/api/v1/tickets``, ``?expand=true``), articles (``/api/v1/ticket_articles``,
``/by_ticket/{id}``), tags (``/api/v1/tags``, ``/tags/add``, ``/tags/remove``), history
(``/api/v1/ticket_history/{id}`` -> ``{"history": [...], "assets": {...}}``, entries keyed ``type`` / ``object``
/ ``attribute`` as Zammad's ``History.list`` renders them), users, organizations,
groups, ticket states/priorities, webhooks and triggers CRUD, object attributes
(``/api/v1/object_manager_attributes``, usable after ``..._execute_migrations``; a ticket write
drops any key that is neither a ticket column nor such an attribute, as Zammad does). Auth is ``Authorization: Token
token=<token>`` (or ``Bearer``). Errors are ``{"error": ..., "error_human": ...}``.

Deliveries: on ticket create, new article and group change, every active trigger whose condition
holds fires its webhook: a POST of ``{"ticket": {...}, "article": {...}}`` (the ticket's owner,
customer, organization, priority and group as objects, as Zammad's ``RecordPayload`` builds them) with
``X-Zammad-Trigger``,
``X-Zammad-Delivery`` and, when the webhook has a ``signature_token``, ``X-Hub-Signature:
sha1=<hex HMAC-SHA1(body)>``; failed deliveries are retried up to 4 times, like Zammad. Supported
trigger conditions: ``ticket.action`` (is create/update), ``article.sender_id`` (is [ids]),
``article.internal``, ``ticket.group_id`` (is [ids] / has changed), ``ticket.state_id``,
``ticket.priority_id``; anything else is refused with 422 naming the key. A trigger with
``execution_condition_mode: "selective"`` fires on an update only when the update changed a
``ticket.*`` attribute its condition names (as in Zammad).

Demo-account seed: groups 100-111 and agents 201-211 from HACKING.md, the API user 299 "tiergate
bot" (token ``DEFAULT_TOKEN``), user 1 "-" (Zammad's "nobody": ``owner_id: 1`` = unassigned),
Zammad's default states, and priorities ``1 low``, ``2 normal``, ``3 high`` plus ``4 urgent`` (an
admin-added priority; stock Zammad has three).

Knobs (``start_server(**knobs)``, ``handle.set_knobs``, ``POST /_control/knobs``):
``rate_limit_per_minute`` (429 + Retry-After), ``latency_ms``, ``fail_next`` + ``fail_status``
(default 503), ``conflict_next`` (next N writes answer 409). ``handle.stats()`` counts requests
(same shape as the Zendesk server's, plus write / suppress-header counts); ``handle.requests()``
lists them; ``handle.reset()`` / ``POST /_control/reset`` go back to the seeded account.

Modules: ``server`` (start_server, ServerHandle), ``app`` (the Flask app: gate, control plane),
``tickets``, ``admin`` and ``objects`` (views), ``desk`` (domain logic), ``store`` (state, knobs), ``triggers``
(the conditions it evaluates), ``delivery`` (webhook sender), ``account`` (the demo account). The
triggers tiergate installs are ``connectors/zammad_triggers.py``.
"""
from tiergate.localdesk.zammad.server import ServerHandle, start_server

__all__ = ["ServerHandle", "start_server"]
