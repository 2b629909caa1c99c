"""The one place a Redis connection is made: ``connect(settings)``.

Without Sentinel it is ``Redis.from_url(settings.redis_url)``. With ``TIERGATE_REDIS_SENTINELS``
(``host:port,host:port``) and ``TIERGATE_REDIS_SENTINEL_MASTER`` (the monitored master's name) it is
``redis.sentinel.Sentinel(...).master_for(name)``: its ``SentinelConnectionPool`` asks the
sentinels for the current master on every new connection, and a connection that finds its server
demoted to a replica (``READONLY``) is dropped, so receiver, workers, RQ's scheduler and the CLI
follow a fail-over on their next command. ``REDIS_URL`` still gives the database number, user and
password of the data nodes; ``TIERGATE_REDIS_SENTINEL_PASSWORD`` authenticates to the sentinels.

Replication is asynchronous: a master can acknowledge a write and die before its replica has it.
``replica_wait`` tells the intake (``jobs/intake.py``) to run ``WAIT`` on the connection that stored
a delivery, so the receiver answers 2xx only for a delivery that a replica holds too (``TIERGATE_REDIS_WAIT_REPLICAS``, ``TIERGATE_REDIS_WAIT_TIMEOUT``).
"""
from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlparse

from redis import Redis

from tiergate.plugin.core.errors import ConfigError


def sentinel_addresses(text: str) -> list[tuple[str, int]]:
    """``"h1:26379, h2:26380"`` -> ``[("h1", 26379), ("h2", 26380)]``; ``ConfigError`` naming
    ``TIERGATE_REDIS_SENTINELS`` and the bad entry otherwise."""
    out: list[tuple[str, int]] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"TIERGATE_REDIS_SENTINELS: {item!r} is not host:port "
                              "(a comma-separated list of sentinel addresses)")
        out.append((host, int(port)))
    if not out:
        raise ConfigError("TIERGATE_REDIS_SENTINELS: no sentinel address given (host:port,host:port)")
    return out


def uses_sentinel(settings: Any) -> bool:
    return bool((getattr(settings, "redis_sentinels", None) or "").strip())


def _data_node_kwargs(redis_url: str) -> dict[str, Any]:
    """Database, user, password and TLS of the data nodes, taken from ``REDIS_URL``."""
    parsed = urlparse(redis_url or "")
    kwargs: dict[str, Any] = {}
    path = (parsed.path or "").strip("/")
    if path.isdigit():
        kwargs["db"] = int(path)
    if parsed.username:
        kwargs["username"] = unquote(parsed.username)
    if parsed.password:
        kwargs["password"] = unquote(parsed.password)
    if parsed.scheme == "rediss":
        kwargs["ssl"] = True
    return kwargs


def connect(settings: Any, **options: Any) -> Redis:
    """A Redis client for ``settings``: through Sentinel when configured, else from the URL.
    ``options`` (timeouts, ``retry``...) apply to the data-node connections."""
    if not uses_sentinel(settings):
        return Redis.from_url(settings.redis_url, **options)
    from redis.sentinel import Sentinel

    master = (getattr(settings, "redis_sentinel_master", None) or "").strip()
    if not master:
        raise ConfigError("TIERGATE_REDIS_SENTINEL_MASTER: required with TIERGATE_REDIS_SENTINELS "
                          "(the name the sentinels monitor the master under)")
    sentinel_kwargs: dict[str, Any] = {
        "socket_timeout": options.get("socket_timeout") or 1.0,
        "socket_connect_timeout": options.get("socket_connect_timeout") or 1.0,
    }
    password = getattr(settings, "redis_sentinel_password", None)
    if password:
        sentinel_kwargs["password"] = password
    sentinel = Sentinel(sentinel_addresses(settings.redis_sentinels), sentinel_kwargs=sentinel_kwargs)
    return sentinel.master_for(master, **{**_data_node_kwargs(settings.redis_url), **options})


def replica_wait(settings: Any) -> tuple[int, int] | None:
    """``(replicas, timeout_ms)`` for the ``WAIT`` after an accepted delivery, or None: only with
    Sentinel (a fail-over promotes a replica, which must already hold what was acknowledged) and
    ``TIERGATE_REDIS_WAIT_REPLICAS`` > 0."""
    if not uses_sentinel(settings):
        return None
    wanted = int(getattr(settings, "redis_wait_replicas", 0) or 0)
    if wanted <= 0:
        return None
    return wanted, max(1, int(float(getattr(settings, "redis_wait_timeout", 1.0)) * 1000))
