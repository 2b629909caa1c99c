"""Shared fixtures: a private real Redis per test session (flushed per test), shared paths.

Area-specific fixtures live in ``fixtures_<area>.py`` modules listed in ``pytest_plugins``.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
import redis

from tiergate.plugin.embedded import start_redis

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("TIERGATE_SHARED_DATA", REPO.parent / "shared" / "data"))

pytest_plugins = [
    "fixtures_zendesk",
    "fixtures_zammad",
    "fixtures_stack",
    "fixtures_sentinel",
]


@pytest.fixture(scope="session")
def _redis_holder():
    holder = {"server": start_redis()}
    yield holder
    holder["server"].stop()


@pytest.fixture(scope="module")
def redis_server(_redis_holder):
    """The session's private Redis; if something ended it, say so and start a new one on the
    same port, so one lost server fails one test module, not every test after it."""
    server = _redis_holder["server"]
    if server.process.poll() is not None:
        warnings.warn(f"private redis-server on port {server.port} exited with "
                      f"{server.process.returncode}; restarting it. Its log:\n{server.log_tail()}")
        server.stop()                                    # its temporary folder
        _redis_holder["server"] = server = start_redis(server.port)
    return server


@pytest.fixture
def redis_url(redis_server):
    return redis_server.url


@pytest.fixture
def redis_conn(redis_server):
    conn = redis.Redis.from_url(redis_server.url)
    conn.flushall()
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"labelled data folder not found at {SHARED_DATA} (set TIERGATE_SHARED_DATA)")
    return SHARED_DATA
