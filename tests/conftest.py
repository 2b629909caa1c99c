"""Shared fixtures: a private real Redis per test session (flushed per test), shared paths.

Area-specific fixtures live in ``fixtures_<area>.py`` modules listed in ``pytest_plugins``.
"""
from __future__ import annotations

import os
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
]


@pytest.fixture(scope="session")
def redis_server():
    """A real redis-server on a free port, private to this test run."""
    server = start_redis()
    yield server
    server.stop()


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
