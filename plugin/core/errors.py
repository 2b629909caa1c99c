"""One exception tree for all of tiergate; edges translate these into HTTP codes and exit codes."""
from __future__ import annotations


class TiergateError(Exception):
    """Root of every error tiergate raises on purpose."""


class ConfigError(TiergateError, ValueError):
    """A process cannot start with this configuration (names the setting and why)."""


# -- inbound deliveries -------------------------------------------------------------------------
class DeliveryError(TiergateError):
    """A webhook delivery was refused. ``status`` is the HTTP code the receiver answers."""

    status = 400
    reason = "bad_request"


class InvalidSignature(DeliveryError):
    status = 401
    reason = "bad_signature"


class MissingSignature(InvalidSignature):
    reason = "missing_signature"


class StaleDelivery(InvalidSignature):
    """The signed timestamp is outside the tolerance window (replay protection)."""

    reason = "stale_timestamp"


class PayloadError(DeliveryError):
    """The body is not what the schema allows; ``field`` names where, ``message`` why."""

    reason = "bad_payload"

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class PayloadTooLarge(DeliveryError):
    status = 413
    reason = "too_large"


class UnsupportedMediaType(DeliveryError):
    status = 415
    reason = "unsupported_media_type"


# -- manifest -----------------------------------------------------------------------------------
class ManifestError(TiergateError):
    """The manifest is invalid. ``errors`` is a list of (json_path, message), all of them."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = list(errors)
        super().__init__("; ".join(f"{p}: {m}" for p, m in self.errors))


# -- helpdesk I/O -------------------------------------------------------------------------------
class ConnectorError(TiergateError):
    """The helpdesk refused or failed a call."""


class RateLimited(ConnectorError):
    def __init__(self, retry_after: float, message: str = "rate limited"):
        super().__init__(f"{message} (retry after {retry_after:g}s)")
        self.retry_after = retry_after


class Conflict(ConnectorError):
    """The ticket changed since it was read (safe_update 409)."""


class NotFound(ConnectorError):
    """The ticket (or other object) no longer exists."""


class Unavailable(ConnectorError):
    """5xx, timeout or refused connection: worth retrying later."""
