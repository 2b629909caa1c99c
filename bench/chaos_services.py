"""Chaos run helpers: a redis-server that can be SIGKILLed and restarted on the same port and
append-only file, and the receiver under waitress exactly as ``tiergate serve`` runs it."""
from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from tiergate.plugin.embedded import stop_process


@dataclass
class RestartableRedis:
    """redis-server with ``--appendonly yes --appendfsync everysec`` in its own folder."""

    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tiergate-chaos-redis-")))
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RestartableRedis":
        from tiergate.plugin.embedded import free_port, redis_server_binary

        self.port = self.port or free_port()
        log = open(self.folder / "out.log", "ab")
        self.process = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(self.folder),
             "--protected-mode", "no", "--loglevel", "warning", "--logfile", str(self.folder / "redis.log")],
            stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 60           # a large AOF takes a while to load
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            try:
                if redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=0.5).ping():
                    return self
            except redis.BusyLoadingError:
                time.sleep(0.05)
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not answer within 60 s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=10)


class WaitressReceiver:
    """``create_app(settings)`` under ``tiergate.plugin.serve.make_server`` in a daemon thread."""

    def __init__(self, settings: Any, threads: int = 8):
        from tiergate.plugin.serve import make_server
        from tiergate.plugin.web import create_app

        self.server, _limit = make_server(create_app(settings), settings, host="127.0.0.1", port=0,
                                          threads=threads, connection_limit=1024)
        self.port = self.server.effective_port
        self.thread = threading.Thread(target=self._run, daemon=True, name="chaos-waitress")
        self.thread.start()

    def _run(self) -> None:
        try:
            self.server.run()
        except Exception:  # noqa: BLE001 - closed from another thread at the end of the run
            pass

    def shutdown(self) -> None:
        try:
            self.server.task_dispatcher.shutdown(timeout=2)
            self.server.close()
        except Exception:  # noqa: BLE001
            pass
