"""The demo's helpdesk: a desk's local compatible server, installed into through the same code path
as ``tiergate install`` (webhook, triggers, fields, signed test delivery), with the example import
and the connector settings the demo and the end-to-end tests need."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tiergate.localdesk import zammad as local_zammad, zendesk as local_zendesk
from tiergate.plugin.install import delivery_outcome, install_zammad, install_zendesk, zammad_desk, zendesk_desk
from tiergate.runtime.config import Settings

DEMO_EMAIL = "admin@demo.example"
DEMO_TOKEN = "demo-api-token"
DEMO_SUBDOMAIN = "demo"


@dataclass
class LocalZendesk:
    """A local Zendesk-compatible server, administered through its public API like a real one."""

    handle: Any

    @classmethod
    def start(cls, port: int = 0) -> "LocalZendesk":
        return cls(local_zendesk.start_server(port=port, email=DEMO_EMAIL, token=DEMO_TOKEN))

    def import_example(self, example: dict, now: datetime) -> int:
        return self.handle.import_example(example, now)

    def settings_overrides(self) -> dict[str, Any]:
        return {"zendesk_subdomain": DEMO_SUBDOMAIN, "zendesk_email": DEMO_EMAIL,
                "zendesk_api_token": DEMO_TOKEN, "zendesk_scheme": "http",
                "zendesk_netloc": self.handle.netloc}

    def stop(self) -> None:
        self.handle.stop()


@dataclass
class LocalZammad:
    """A local Zammad-compatible server, administered through its public API like a real one."""

    handle: Any

    @classmethod
    def start(cls, port: int = 0) -> "LocalZammad":
        return cls(local_zammad.start_server(port=port))

    def import_example(self, example: dict, now: datetime) -> int:
        return self.handle.import_example(example, now)

    def settings_overrides(self) -> dict[str, Any]:
        return {"zammad_url": self.handle.url, "zammad_api_token": self.handle.token}

    def stop(self) -> None:
        self.handle.stop()


def install(desk, helpdesk: str, receiver_url: str, secret: str):
    """Install tiergate into ``desk`` exactly as ``tiergate install`` does; returns its report.
    The receiver must already be listening: the install ends with a signed test delivery."""
    settings = Settings(**desk.settings_overrides())
    quiet = lambda _line: None  # noqa: E731
    if helpdesk == "zendesk":
        report = install_zendesk(zendesk_desk(settings, echo=quiet), receiver_url, secret=secret)
        status, detail = delivery_outcome(report.test)
        if not 200 <= status < 300:
            raise RuntimeError(f"install: the test delivery did not verify (status {status}): {detail}")
    else:
        report = install_zammad(zammad_desk(settings, echo=quiet), receiver_url, secret=secret)
    if report.secret != secret:
        raise RuntimeError("install: the helpdesk kept another signing secret")
    return report


def local_or_configured(helpdesk: str):
    """The demo's desk. Only local compatible servers are started here."""
    if helpdesk == "zendesk":
        return LocalZendesk.start()
    if helpdesk == "zammad":
        return LocalZammad.start()
    raise ValueError(f"helpdesk: unknown {helpdesk!r}")
