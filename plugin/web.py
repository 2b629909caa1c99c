"""The HTTP edge: signed helpdesk webhooks in, RQ jobs out, in milliseconds.

``create_app(config)`` is a Flask application factory. ``POST /webhooks/<helpdesk>`` checks, in
this order: body size (413), content type (415), signature and timestamp through the helpdesk's
pure verifier (401), JSON depth and payload shape (400); then it dedupes the delivery id in Redis
and enqueues one job (202), or answers 200 for a duplicate. Redis unreachable -> 503 with
``Retry-After`` so the helpdesk retries: nothing is acknowledged that was not stored. Every error
is a JSON body; no traceback, no 500, no secret ever leaves the process.

Dedupe and enqueue are one atomic Redis script (``tiergate.jobs.intake``, one round trip): the
job and its dedupe keys (the delivery id, and a digest of the signature headers so a replay under
a new unsigned id is a duplicate) are stored together or not at all, so a Redis loss at any point
leaves nothing that refuses the helpdesk's retry. A 2xx therefore means "in Redis"; surviving a
Redis crash also needs AOF (``appendonly yes``, ``appendfsync everysec`` or ``always``), which
``tiergate serve`` checks at start. Anything unexpected answers 503 + Retry-After, never a 500.

Verifiers are looked up by helpdesk name (``tiergate.connectors.registry.VERIFIERS``: functions
``verify(headers, body, secret, now, tolerance) -> Delivery``), so a
second helpdesk plugs in without touching this module. Counters go through
``tiergate.runtime.metrics`` and the dashboard is ``tiergate.plugin.analytics.dashboard``, both
registered when present.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import logging
import re
import time
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

import redis
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider
from redis.backoff import NoBackoff
from redis.retry import Retry
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from tiergate.connectors.base import PING_EVENT
from tiergate.connectors.registry import VERIFIERS
from tiergate.runtime import keys
from tiergate.jobs.intake import DUPLICATE, IN_FLIGHT, Intake, NotReplicated
from tiergate.plugin.analytics.dashboard import init_app as dashboard_init_app
from tiergate.plugin.core.errors import (ConfigError, DeliveryError, PayloadError, PayloadTooLarge,
                                         UnsupportedMediaType)
from tiergate.plugin.web_guard import init_app as web_guard_init_app
from tiergate.runtime.config import Settings
from tiergate.runtime.metrics import SPECS, Metrics, _label_key, init_app as metrics_init_app
from tiergate.runtime.redact import secret_values
from tiergate.runtime.redis_conn import connect, replica_wait

log = logging.getLogger("tiergate.web")

EXTENSION = "tiergate"
OPENAPI_PATH = Path(__file__).with_name("openapi.json")

# create_app(Mapping) keys that are not Settings fields, with their defaults.
WEB_DEFAULTS: dict[str, Any] = {
    "MAX_JSON_DEPTH": None,        # deeper bodies -> 400 too_deep (after the signature check);
                                   # None: settings.max_json_depth
    "RETRY_AFTER": 5,              # seconds, on every 503
    "PENDING_TTL": 60,             # unused since dedupe + enqueue became one atomic script (kept
                                   # so existing configurations still load)
    "REDIS_TIMEOUT": 1.0,          # socket connect/read timeout to Redis, seconds
    "CLOCK": None,                 # callable -> aware UTC datetime; None: the wall clock
    "VERIFIERS": None,             # {helpdesk: verify callable}; None: the registry's
    "HELPDESKS": None,             # helpdesk names accepted; None: (settings.helpdesk,)
    "REDIS": None,                 # a ready redis.Redis; None: built from settings.redis_url
}

@dataclass
class WebState:
    """What the routes need, kept on ``app.extensions["tiergate"]`` (no module globals)."""

    settings: Settings
    redis: redis.Redis
    verifiers: Mapping[str, Callable[..., Any]]
    clock: Callable[[], datetime]
    max_json_depth: int
    retry_after: int
    pending_ttl: int
    metrics: Any = None
    intake: Any = None                   # tiergate.jobs.intake.Intake: dedupe + enqueue, atomic
    metrics_paused_until: float = 0.0    # monotonic; counters are skipped while Redis misbehaves
    secrets: tuple[str, ...] = field(default=(), repr=False)


def state() -> WebState:
    return current_app.extensions[EXTENSION]


# -- configuration ------------------------------------------------------------------------------
def _split_config(config: Settings | Mapping[str, Any] | None) -> tuple[Settings, dict[str, Any]]:
    """Settings plus the web-only options. A Mapping may hold Settings field names, their
    environment variable names (``TIERGATE_WEBHOOK_SECRET``), ``settings`` (a Settings) and the
    ``WEB_DEFAULTS`` keys; None reads the environment (``Settings.from_env()``)."""
    web = dict(WEB_DEFAULTS)
    if config is None:
        return Settings.from_env(), web
    if isinstance(config, Settings):
        return config, web
    names = {f.name for f in fields(Settings)}
    by_env = {var: name for name, var in Settings.ENV.items()}
    base = config.get("settings") or Settings()
    overrides: dict[str, Any] = {}
    for key, value in config.items():
        if key == "settings":
            continue
        if key in names:
            overrides[key] = value
        elif key in by_env:
            overrides[by_env[key]] = value
        elif key in web:
            web[key] = value
        else:
            raise ConfigError(f"create_app: unknown config key {key!r}")
    return base.with_(**overrides) if overrides else base, web


def _verifiers(names: tuple[str, ...], given: Mapping[str, Any] | None) -> dict[str, Callable[..., Any]]:
    """``verify(headers, body, secret, now, tolerance)`` per accepted helpdesk."""
    given = VERIFIERS if given is None else given
    out = {}
    for name in names:
        if name not in given:
            raise ConfigError(f"helpdesk: no webhook verifier for {name!r}; known: {sorted(given)}")
        target = given[name]
        if callable(target):
            out[name] = target
        else:
            module, attr = target.split(":")
            out[name] = getattr(importlib.import_module(module), attr)
    return out


def create_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the receiver. Raises ``ConfigError`` without a webhook secret."""
    settings, web = _split_config(config)
    if not (settings.webhook_secret or "").strip():
        raise ConfigError("TIERGATE_WEBHOOK_SECRET is required: the receiver refuses unsigned "
                          "webhooks, set it to the helpdesk webhook's signing secret")
    helpdesks = tuple(web["HELPDESKS"] or (settings.helpdesk,))
    # one immediate retry (a pooled connection gone stale across a Redis restart), no backoff
    # sleeps: an outage must turn into a fast 503, not a slow one
    # (through Sentinel when TIERGATE_REDIS_SENTINELS is set: tiergate.runtime.redis_conn)
    conn = web["REDIS"] or connect(
        settings, socket_connect_timeout=web["REDIS_TIMEOUT"],
        socket_timeout=max(web["REDIS_TIMEOUT"], settings.redis_wait_timeout + 1.0)
        if replica_wait(settings) else web["REDIS_TIMEOUT"], retry=Retry(NoBackoff(), 1))

    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes, PROPAGATE_EXCEPTIONS=False,
        TRAP_HTTP_EXCEPTIONS=False)
    app.json.sort_keys = False
    secrets_ = secret_values(settings)   # secret settings and passwords inside URLs
    app.extensions[EXTENSION] = WebState(
        settings=settings, redis=conn, verifiers=_verifiers(helpdesks, web["VERIFIERS"]),
        clock=web["CLOCK"] or (lambda: datetime.now(timezone.utc)),
        max_json_depth=int(web["MAX_JSON_DEPTH"] or settings.max_json_depth),
        retry_after=int(web["RETRY_AFTER"]), pending_ttl=int(web["PENDING_TTL"]),
        metrics=Metrics(conn), intake=Intake(conn, settings), secrets=secrets_)
    _install_redaction(secrets_)
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    web_guard_init_app(app, settings)
    metrics_init_app(app, lambda: conn)
    app.config["TIERGATE_SETTINGS"] = settings
    app.config["TIERGATE_REDIS_URL"] = settings.redis_url
    dashboard_init_app(app, settings)
    redacted = settings.redacted()
    log.info("receiver ready helpdesks=%s %s", ",".join(helpdesks),
             " ".join(f"{k}={redacted[k]}" for k in sorted(redacted) if k != "extra"))
    return app


# -- logging: no secret ever reaches a handler --------------------------------------------------
class _Redact(logging.Filter):
    def __init__(self, secrets_: tuple[str, ...]):
        super().__init__()
        self.secrets = secrets_

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        text = message
        for secret in self.secrets:
            text = text.replace(secret, "***")
        if text != message:
            record.msg, record.args = text, None
        if record.exc_info and record.exc_info[1] is not None:
            exc_text = str(record.exc_info[1])
            if any(s in exc_text for s in self.secrets):
                record.exc_info = None
                record.exc_text = None
                record.msg = f"{record.msg} (exception text withheld: contained a secret)"
        return True


def _install_redaction(secrets_: tuple[str, ...]) -> None:
    for existing in list(log.filters):
        if isinstance(existing, _Redact):
            existing.secrets = tuple(set(existing.secrets) | set(secrets_))
            return
    log.addFilter(_Redact(secrets_))


# -- responses ----------------------------------------------------------------------------------
def _error(status: int, error: str, message: str, *, field: str | None = None,
           headers: Mapping[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"error": error, "message": message}
    if field is not None:
        body["field"] = field
    response = jsonify(body)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


_COMPACT = json.JSONEncoder(separators=(",", ":")).encode   # what jsonify writes outside debug


def _json(body: Mapping[str, Any], status: int) -> Response:
    """``jsonify(body)`` with ``status`` for plain string values, without the JSON provider's
    per-call set-up (the same bytes: compact, ASCII-escaped, a final newline)."""
    app = current_app
    if (app.debug or not isinstance(app.json, DefaultJSONProvider) or app.json.compact is not None
            or not app.json.ensure_ascii or app.json.sort_keys):
        response = jsonify(body)
        response.status_code = status
        return response
    return app.response_class(_COMPACT(body) + "\n", status=status, mimetype="application/json")


def _unavailable(error: str, message: str) -> Response:
    return _error(503, error, message, headers={"Retry-After": str(state().retry_after)})


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status >= 500:
        return _unavailable("unavailable", "the receiver cannot take this request now; retry later")
    error = "too_large" if status == 413 else _slug(exc.name or "error")
    response = _error(status, error, exc.description or exc.name or "error")
    if status == 405 and exc.response is None:
        allow = getattr(exc, "valid_methods", None)
        if allow:
            response.headers["Allow"] = ", ".join(allow)
    return response


def _unexpected_error(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):  # pragma: no cover - Flask routes these to _http_error
        return _http_error(exc)
    if isinstance(exc, redis.RedisError):
        log.warning("redis unavailable path=%s error=%s", request.path, type(exc).__name__)
        return _unavailable("redis_unavailable", "storage is unreachable; retry later")
    log.error("unexpected error path=%s error=%s", request.path, type(exc).__name__, exc_info=exc)
    return _unavailable("internal", "the receiver failed on this request; retry later")


# -- metrics (best effort: a metrics failure never fails a webhook) -----------------------------
METRICS_PAUSE = 5.0  # seconds without counting after a counter failed (no timeout per request)


# counter names and labels as declared in tiergate.runtime.metrics.SPECS
RECEIVED = "tiergate_webhooks_received_total"      # {helpdesk}: every POST to a known helpdesk
REJECTED = "tiergate_webhooks_rejected_total"      # {reason}: 4xx and 503 answers
DUPLICATES = "tiergate_duplicates_dropped_total"   # {}: answered 200 duplicate, nothing enqueued


def _count(name: str, **labels: str) -> None:
    st = state()
    if st.metrics is None or time.monotonic() < st.metrics_paused_until:
        return
    try:
        st.metrics.inc(name, labels)
    except redis.RedisError as exc:
        st.metrics_paused_until = time.monotonic() + METRICS_PAUSE
        log.warning("metrics paused name=%s error=%s paused_s=%g", name, type(exc).__name__, METRICS_PAUSE)
    except Exception as exc:  # noqa: BLE001 - counters must never break the receiver
        log.warning("metrics failed name=%s error=%s", name, exc)


# -- checks -------------------------------------------------------------------------------------
# a string (an unterminated one runs to the end: the optional close keeps this linear) or a bracket
_TOKEN = re.compile(rb'"(?:[^"\\]+|\\.)*"?|[\[{]|[\]}]', re.DOTALL)


def json_depth(body: bytes, limit: int | None = None) -> int:
    """Deepest nesting of arrays/objects in ``body`` without parsing it (strings skipped).
    With ``limit`` the answer is only compared with it: at most ``limit`` when the body is within
    it (cheap when there are few brackets at all), above ``limit`` as soon as a nesting passes it."""
    if limit is not None:
        opening = body.count(b"[") + body.count(b"{")
        if opening <= limit:
            return opening
    depth = deepest = 0
    for match in _TOKEN.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if limit is not None and deepest > limit:
                    return deepest
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


def _read_body(limit: int) -> bytes:
    """The raw body, never reading more than ``limit + 1`` bytes."""
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"body of {length} bytes is over the {limit} byte limit")
    chunks, size = [], 0
    try:
        stream = request.stream
        while size <= limit:
            chunk = stream.read(min(65536, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except RequestEntityTooLarge:
        size = limit + 1
    if size > limit:
        raise PayloadTooLarge(f"body is over the {limit} byte limit")
    return b"".join(chunks)


def _check_json_type() -> None:
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not (mimetype.startswith("application/")
                                                and mimetype.endswith("+json")):
        raise UnsupportedMediaType(f"content type must be application/json, got {mimetype or 'none'!r}")


class TooDeep(PayloadError):
    reason = "too_deep"


def _verify(verify: Callable[..., Any], body: bytes, st: WebState):
    settings = st.settings
    too_deep = json_depth(body, st.max_json_depth) > st.max_json_depth
    try:
        delivery = verify(request.headers, body, settings.webhook_secret, st.clock(),
                          settings.timestamp_tolerance)
    except (PayloadError, RecursionError, ValueError):
        # signature checks come first inside the verifier, so reaching here means it was signed
        if too_deep:
            raise TooDeep("$", f"JSON nested deeper than {st.max_json_depth} levels") from None
        raise
    if too_deep:
        raise TooDeep("$", f"JSON nested deeper than {st.max_json_depth} levels")
    return delivery


# -- routes -------------------------------------------------------------------------------------
bp = Blueprint("tiergate", __name__)


@bp.post("/webhooks/<helpdesk>")
def webhook(helpdesk: str) -> Response:
    st = state()
    verify = st.verifiers.get(helpdesk)
    if verify is None:
        return _error(404, "unknown_helpdesk", f"no webhook receiver for {helpdesk!r}; "
                      f"enabled: {sorted(st.verifiers)}", field="helpdesk")
    started = time.perf_counter()
    try:
        body = _read_body(st.settings.max_body_bytes)
        _check_json_type()
        delivery = _verify(verify, body, st)
    except DeliveryError as exc:
        return _rejected(helpdesk, exc)
    except ValueError as exc:  # a verifier that let a parse error through
        return _rejected(helpdesk, PayloadError("$", f"not valid JSON: {type(exc).__name__}"))
    except RecursionError:
        return _rejected(helpdesk, TooDeep("$", f"JSON nested deeper than {st.max_json_depth} levels"))
    if delivery.event_type == PING_EVENT:
        _count(RECEIVED, helpdesk=helpdesk)
        log.info("webhook test delivery verified helpdesk=%s", helpdesk)
        return jsonify({"status": "verified", "test": True})
    return _store(helpdesk, delivery, st, started)


def _rejected(helpdesk: str, exc: DeliveryError) -> Response:
    reason = getattr(exc, "reason", "bad_request")
    status = getattr(exc, "status", 400)
    _count(RECEIVED, helpdesk=helpdesk)
    _count(REJECTED, reason=reason)
    log.info("webhook rejected helpdesk=%s status=%s reason=%s", helpdesk, status, reason)
    if isinstance(exc, PayloadError):
        return _error(status, reason, exc.message, field=exc.field)
    message = str(exc) or reason.replace("_", " ")
    return _error(status, reason, message)


def _signature_headers(environ: Mapping[str, Any]) -> list[str]:
    """``name:value`` of every header whose name holds "signature", the name lower-cased (read
    from the WSGI environ without building the headers view)."""
    found = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
            if "signature" in name:
                found.append(f"{name}:{value}")
    return found


def _dedupe_keys(helpdesk: str, delivery_id: str, signature: list[str]) -> list[str]:
    """The delivery id the desk sent, and a digest of its signature headers (``name:value``,
    ``_signature_headers``): a signature is an HMAC of the signed content, so a replay under a
    new unsigned id still hits the second key."""
    found = [keys.dedupe_delivery(helpdesk, delivery_id)]
    if signature:
        digest = hashlib.sha256("\n".join(sorted(signature)).encode("utf-8", "replace")).hexdigest()
        found.append(keys.dedupe_signature(helpdesk, digest))
    return found


def _store(helpdesk: str, delivery, st: WebState, started: float) -> Response:
    """Dedupe + enqueue as one atomic Redis script (``tiergate.jobs.intake``): after any failure
    either the job and its dedupe keys are stored (the retry is a duplicate) or nothing is (the
    retry is accepted). No "pending" state exists to be stranded by a crash."""
    counter = None
    if st.metrics is not None:
        counter = (f"{st.metrics.prefix}:c:{RECEIVED}", _label_key(SPECS[RECEIVED], {"helpdesk": helpdesk}))
    try:
        dedupe = _dedupe_keys(helpdesk, delivery.delivery_id, _signature_headers(request.environ))
        status, job_id = st.intake.store(delivery, dedupe, st.settings.dedupe_ttl, counter,
                                         replicas=replica_wait(st.settings))
    except redis.RedisError as exc:
        _count(RECEIVED, helpdesk=helpdesk)
        return _redis_down(helpdesk, exc)
    except NotReplicated as exc:
        # stored on the master only: a fail-over could lose it, so no 2xx; the retry is a
        # duplicate once a replica has it, or accepted anew if a fail-over lost it
        _count(REJECTED, reason="not_replicated")
        log.warning("webhook not replicated helpdesk=%s delivery=%s %s", helpdesk, delivery.delivery_id, exc)
        return _unavailable("not_replicated", "the delivery is not yet on a replica; retry later")
    if status == IN_FLIGHT:
        _count(REJECTED, reason="in_flight")
        log.info("webhook in flight helpdesk=%s delivery=%s", helpdesk, delivery.delivery_id)
        return _unavailable("in_flight", "this delivery is being stored; retry shortly")
    if status == DUPLICATE:
        _count(DUPLICATES)
        log.info("webhook duplicate helpdesk=%s delivery=%s", helpdesk, delivery.delivery_id)
        return _json({"status": "duplicate", "delivery_id": delivery.delivery_id}, 200)
    log.info("webhook queued helpdesk=%s delivery=%s ticket=%s job=%s ms=%.1f", helpdesk,
             delivery.delivery_id, delivery.ticket_id, job_id, (time.perf_counter() - started) * 1e3)
    return _json({"status": "queued", "job_id": job_id, "delivery_id": delivery.delivery_id}, 202)


def _redis_down(helpdesk: str, exc: Exception) -> Response:
    log.warning("redis unavailable helpdesk=%s error=%s", helpdesk, type(exc).__name__)
    _count(REJECTED, reason="redis_unavailable")
    return _unavailable("redis_unavailable", "storage is unreachable; the delivery was not "
                        "accepted, retry later")


@bp.get("/healthz")
def healthz() -> Response:
    try:
        state().redis.ping()
    except redis.RedisError as exc:
        log.warning("healthz redis down error=%s", type(exc).__name__)
        response = jsonify({"redis": "down", "error": type(exc).__name__})
        response.status_code = 503
        response.headers["Retry-After"] = str(state().retry_after)
        return response
    return jsonify({"redis": "ok"})


@bp.get("/openapi.json")
def openapi() -> Response:
    try:
        document = OPENAPI_PATH.read_bytes()
    except OSError:
        return _error(404, "not_found", "the OpenAPI document is not installed with this build")
    return Response(document, mimetype="application/json")
