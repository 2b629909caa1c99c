"""The SLA section of the manifest as frozen objects: policies, metric targets, commitments.

``SlaConfig`` holds the policies (which tickets they cover, each metric's target, pause
statuses and warning thresholds, tightening rules) and the targets of promises made by public
notes (``Commitments``). Built by ``sla_schema``; read by the SLA clocks (``sla``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

METRICS = ("first_reply_time", "next_reply_time", "periodic_update_time", "pausable_update_time",
           "requester_wait_time", "agent_work_time", "resolution_time")
COMMITMENT_METRICS = ("acknowledgement", "response_window")
PRIORITIES = ("low", "normal", "high", "urgent", "none")
PAUSE_STATUSES = ("new", "open", "pending", "hold")
DEFAULT_PAUSE_ON: Mapping[str, tuple[str, ...]] = {
    "requester_wait_time": ("pending",),   # on-hold waits on a third party: the requester waits
}
DEFAULT_PAUSE = ("pending", "hold")


@dataclass(frozen=True)
class Match:
    """Which tickets a policy covers: every given key must hold; an empty tuple matches anything
    (``none`` = unset, for priorities, segments and types). ``not_*`` keys exclude; ``tags_any``
    needs one of the tags, ``tags_none`` none of them; ``fields`` pairs a custom field's key with
    the values it may have. ``sla_match.covers`` evaluates it."""

    priorities: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    groups: tuple[int, ...] = ()
    not_groups: tuple[int, ...] = ()
    organizations: tuple[int, ...] = ()
    not_organizations: tuple[int, ...] = ()
    types: tuple[str, ...] = ()
    not_types: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    not_channels: tuple[str, ...] = ()
    tags_any: tuple[str, ...] = ()
    tags_none: tuple[str, ...] = ()
    fields: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class MetricTarget:
    metric: str
    target_minutes: float
    business_hours: bool = False
    calendar: str | None = None
    pause_on: tuple[str, ...] | None = None      # None: the metric's default
    warn_at: tuple[int, ...] | None = None       # None: the policy's / sla's

    def pauses(self) -> tuple[str, ...]:
        if self.pause_on is not None:
            return self.pause_on
        return DEFAULT_PAUSE_ON.get(self.metric, DEFAULT_PAUSE)


@dataclass(frozen=True)
class TightenWhen:
    """All given keys must hold."""

    segments: tuple[str, ...] = ()
    vip: bool | None = None
    renewal_within_days: float | None = None
    attention_score_above: float | None = None
    account_value_above: float | None = None
    priorities: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tighten:
    when: TightenWhen
    factor: float | None = None                  # target * factor
    target_minutes: float | None = None          # or an absolute target
    metrics: tuple[str, ...] = ()                # empty: every metric of the policy
    name: str = ""


@dataclass(frozen=True)
class Policy:
    name: str
    metrics: tuple[MetricTarget, ...]
    match: Match = Match()
    tighten: tuple[Tighten, ...] = ()
    calendar: str | None = None
    warn_at: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Commitments:
    """Targets of promises made by tiergate's public notes (see ``sla.commitment_marker``)."""

    acknowledgement: float = 30.0
    response_window: float = 120.0
    business_hours: bool = False
    calendar: str | None = None

    def target(self, kind: str) -> float:
        return self.acknowledgement if kind == "acknowledgement" else self.response_window


@dataclass(frozen=True)
class SlaConfig:
    policies: tuple[Policy, ...] = ()
    warn_at: tuple[int, ...] = (75,)
    default_calendar: str | None = None
    commitments: Commitments = Commitments()


def policy_calendar_name(sla: SlaConfig, policy: Policy | None,
                         metric: MetricTarget | None) -> str | None:
    """The calendar a business-hours metric uses: metric's, else policy's, else the default."""
    return ((metric.calendar if metric else None) or (policy.calendar if policy else None)
            or sla.default_calendar)
