"""Settings read from the environment (12-factor); secrets are kept out of ``repr`` and logs."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from tiergate.connectors.connection import DeskConnection
from tiergate.runtime.redact import redact_url


def _secret() -> Any:
    return field(default=None, repr=False)


@dataclass(frozen=True)
class Settings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_sentinels: str | None = None          # "host:port,host:port": connect through Sentinel
    redis_sentinel_master: str | None = None    # the master's name the sentinels monitor
    redis_sentinel_password: str | None = _secret()
    redis_wait_replicas: int = 1                # with Sentinel: replicas that must hold a delivery before its 2xx
    redis_wait_timeout: float = 1.0             # seconds to wait for them; then 503
    manifest_path: str | None = None            # None: the embedded default manifest
    webhook_secret: str | None = _secret()
    admin_token: str | None = _secret()
    metrics_token: str | None = _secret()       # bearer token for GET /metrics (admin token works too)
    note_secret: str | None = _secret()         # keys of the handoff-note markers, newest first
    helpdesk: str = "zendesk"
    zendesk_subdomain: str | None = None
    zendesk_email: str | None = None
    zendesk_api_token: str | None = _secret()
    zendesk_scheme: str | None = None          # ZENPY_FORCE_SCHEME, for a local server
    zendesk_netloc: str | None = None          # ZENPY_FORCE_NETLOC
    zendesk_timeout: float = 10.0               # seconds per API request
    zammad_url: str | None = None
    zammad_api_token: str | None = _secret()
    db_url: str = "sqlite:///tiergate.sqlite"
    timestamp_tolerance: float = 300.0          # seconds
    max_body_bytes: int = 256 * 1024
    max_json_depth: int = 32
    dedupe_ttl: int = 7 * 24 * 3600
    queue_name: str = "tiergate"
    retry_horizon: float = 6 * 3600.0           # seconds a job is retried through a vendor outage
    extra: Mapping[str, Any] = field(default_factory=dict)

    ENV = {
        "redis_url": "REDIS_URL",
        "redis_sentinels": "TIERGATE_REDIS_SENTINELS",
        "redis_sentinel_master": "TIERGATE_REDIS_SENTINEL_MASTER",
        "redis_sentinel_password": "TIERGATE_REDIS_SENTINEL_PASSWORD",
        "redis_wait_replicas": "TIERGATE_REDIS_WAIT_REPLICAS",
        "redis_wait_timeout": "TIERGATE_REDIS_WAIT_TIMEOUT",
        "manifest_path": "TIERGATE_MANIFEST",
        "webhook_secret": "TIERGATE_WEBHOOK_SECRET",
        "admin_token": "TIERGATE_ADMIN_TOKEN",
        "metrics_token": "TIERGATE_METRICS_TOKEN",
        "note_secret": "TIERGATE_NOTE_SECRET",
        "helpdesk": "TIERGATE_HELPDESK",
        "zendesk_subdomain": "ZENDESK_SUBDOMAIN",
        "zendesk_email": "ZENDESK_EMAIL",
        "zendesk_api_token": "ZENDESK_API_TOKEN",
        "zendesk_scheme": "ZENPY_FORCE_SCHEME",
        "zendesk_netloc": "ZENPY_FORCE_NETLOC",
        "zendesk_timeout": "ZENDESK_TIMEOUT",
        "zammad_url": "ZAMMAD_URL",
        "zammad_api_token": "ZAMMAD_TOKEN",
        "db_url": "TIERGATE_DB_URL",
        "timestamp_tolerance": "TIERGATE_TIMESTAMP_TOLERANCE",
        "max_body_bytes": "TIERGATE_MAX_BODY_BYTES",
        "max_json_depth": "TIERGATE_MAX_JSON_DEPTH",
        "queue_name": "TIERGATE_QUEUE",
        "retry_horizon": "TIERGATE_RETRY_HORIZON",
    }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        env = os.environ if environ is None else environ
        kwargs: dict[str, Any] = {}
        types = {f.name: f.type for f in fields(cls)}
        for name, var in cls.ENV.items():
            if var in env and env[var] != "":
                raw = env[var]
                kind = types[name]
                try:
                    kwargs[name] = float(raw) if kind == "float" else int(raw) if kind == "int" else raw
                except ValueError:
                    raise ValueError(f"{var}: {raw!r} is not a number") from None
        kwargs.update(overrides)
        return cls(**kwargs)

    def with_(self, **changes: Any) -> "Settings":
        return replace(self, **changes)

    def connection(self) -> DeskConnection:
        """What a connector needs from these settings (same field names)."""
        return DeskConnection(**{f.name: getattr(self, f.name) for f in fields(DeskConnection)})

    def redacted(self) -> dict[str, Any]:
        """For logs: every secret replaced by ``***``, passwords inside URLs too."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = "***" if (not f.repr and value) else redact_url(value) if f.name.endswith("_url") else value
        return out
