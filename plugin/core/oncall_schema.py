"""The delivery part of the manifest's ``oncall`` section: the channels a route pages through and
the SMTP server email pages leave by (composed into ``OncallSchema`` by ``manifest_schema.py``).

```json
"oncall": {
  "smtp": {"host": "smtp.example.com", "port": 587, "sender": "tiergate@example.com",
           "starttls": true, "username": "tiergate", "password_env": "TIERGATE_SMTP_PASSWORD"},
  "routes": {"support_oncall": {"kind": "email", "target": "oncall@example.com", "channels": [
      {"kind": "email", "target": "oncall@example.com"},
      {"kind": "pagerduty", "target": "https://events.pagerduty.com/v2/enqueue",
       "routing_key_env": "PD_ROUTING_KEY"},
      {"kind": "slack", "target": "https://hooks.slack.com/services/T000/B000/XXX"}]}}}
```
A route without ``channels`` pages through its own ``kind`` and ``target``. Kinds: ``email``
(SMTP), ``webhook`` (POST of the notification JSON), ``pagerduty`` (Events API v2 trigger, the
page fingerprint as ``dedup_key``), ``slack`` (incoming-webhook ``text``). Secrets (SMTP
password, PagerDuty routing key) are named by environment variable, never written here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

CHANNEL_KINDS = ("email", "webhook", "pagerduty", "slack")
SEVERITIES = ("critical", "error", "warning", "info")
_URL = re.compile(r"^https?://[^\s/]+")
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+$")
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def _d(text: str) -> dict[str, Any]:
    return {"description": text}


@dataclass(frozen=True)
class Channel:
    kind: str
    target: str
    routing_key_env: str | None = None
    severity: str = "critical"


@dataclass(frozen=True)
class Smtp:
    host: str
    sender: str
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password_env: str | None = None
    timeout: float = 10.0


def check_target(kind: str | None, target: str) -> None:
    """Raises ValidationError on ``target`` when it does not fit ``kind``."""
    if kind in ("webhook", "pagerduty", "slack") and not _URL.match(target or ""):
        raise ValidationError(f"a {kind} target must be an http(s) URL", "target")
    if kind == "email" and not _ADDRESS.match(target or ""):
        raise ValidationError("an email target must be an address", "target")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ChannelSchema(_Strict):
    kind = fields.String(required=True, validate=validate.OneOf(CHANNEL_KINDS), metadata=_d(
        "email (SMTP), webhook (POST JSON), pagerduty (Events API v2) or slack (incoming webhook)."))
    target = fields.String(required=True, validate=validate.Length(min=3),
                           metadata=_d("Address for email, URL for the others."))
    routing_key_env = fields.String(load_default=None, allow_none=True,
                                    validate=validate.Regexp(_ENV.pattern, error="must be an environment "
                                                             "variable name like PD_ROUTING_KEY"),
                                    metadata=_d("pagerduty: environment variable holding the routing key."))
    severity = fields.String(load_default="critical", validate=validate.OneOf(SEVERITIES),
                             metadata=_d("pagerduty: the event's severity."))

    @validates_schema
    def _check(self, data, **kw):
        check_target(data.get("kind"), data.get("target", ""))
        if data.get("kind") == "pagerduty" and not data.get("routing_key_env"):
            raise ValidationError("a pagerduty channel needs routing_key_env", "routing_key_env")

    @post_load
    def _make(self, data, **kw):
        return Channel(**data)


class SmtpSchema(_Strict):
    host = fields.String(required=True, validate=validate.Length(min=1), metadata=_d("SMTP server host."))
    port = fields.Integer(strict=True, load_default=25, validate=validate.Range(1, 65535),
                          metadata=_d("SMTP server port."))
    sender = fields.String(required=True, validate=validate.Regexp(_ADDRESS.pattern, error="must be an address"),
                           metadata=_d("From address of email pages."))
    starttls = fields.Boolean(load_default=False, metadata=_d("Upgrade the connection with STARTTLS."))
    username = fields.String(load_default=None, allow_none=True, metadata=_d("SMTP login user."))
    password_env = fields.String(load_default=None, allow_none=True,
                                 validate=validate.Regexp(_ENV.pattern, error="must be an environment variable name"),
                                 metadata=_d("Environment variable holding the SMTP password."))
    timeout = fields.Float(load_default=10.0, validate=validate.Range(0.1, 120),
                           metadata=_d("Seconds per SMTP operation."))

    @post_load
    def _make(self, data, **kw):
        return Smtp(**data)
