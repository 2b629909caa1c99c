"""A real Redis Sentinel deployment on loopback: a primary, one replica (``--replicaof``) and three
sentinels (``redis-server <conf> --sentinel``), each on a free port in its own folder.

``SentinelCluster.start(folder)`` returns once the sentinels see the master and the replica is in
sync; ``kill_primary()`` SIGKILLs the current master, ``wait_for_failover(old)`` waits until the
sentinels name another one, ``restart(node)`` starts a killed data node again on its port and
folder (the sentinels then make it a replica of the new master). Fixture ``sentinel_cluster``
gives one per test and stops every process it started.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from tiergate.plugin.embedded import free_port, redis_server_binary, stop_process

MASTER_NAME = "tgmaster"


@dataclass
class Node:
    port: int
    folder: Path
    args: list[str]
    process: subprocess.Popen | None = None

    def start(self) -> "Node":
        log = open(self.folder / "out.log", "ab")
        self.process = subprocess.Popen(self.args, stdout=log, stderr=log, cwd=self.folder)
        log.close()
        _wait_ping(self.port, self.process)
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=5)

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, socket_connect_timeout=1)


def _wait_ping(port: int, process: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis process on port {port} exited with {process.returncode}")
        try:
            if redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5, socket_connect_timeout=0.5).ping():
                return
        except redis.RedisError:
            time.sleep(0.05)
    raise RuntimeError(f"redis process on port {port} did not answer within {timeout:.0f} s")


def _until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class SentinelCluster:
    folder: Path
    data: list[Node] = field(default_factory=list)
    sentinels: list[Node] = field(default_factory=list)

    @classmethod
    def start(cls, folder: Path, *, down_after_ms: int = 1000, failover_timeout_ms: int = 3000) -> "SentinelCluster":
        cluster = cls(folder)
        binary = redis_server_binary()
        try:
            primary_port = free_port()
            for role in ("primary", "replica"):
                port = primary_port if role == "primary" else free_port()
                node_dir = folder / role
                node_dir.mkdir(parents=True)
                args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(node_dir),
                        "--appendonly", "yes", "--appendfsync", "everysec", "--protected-mode", "no",
                        "--loglevel", "notice", "--logfile", str(node_dir / "redis.log")]
                if role == "replica":
                    args += ["--replicaof", "127.0.0.1", str(primary_port)]
                cluster.data.append(Node(port, node_dir, args).start())
            for k in range(3):
                port = free_port()
                node_dir = folder / f"sentinel{k}"
                node_dir.mkdir()
                conf = node_dir / "sentinel.conf"
                conf.write_text("\n".join([
                    f"port {port}", "bind 127.0.0.1", "protected-mode no", f"dir {node_dir}",
                    f"logfile {node_dir / 'sentinel.log'}",
                    f"sentinel monitor {MASTER_NAME} 127.0.0.1 {primary_port} 2",
                    f"sentinel down-after-milliseconds {MASTER_NAME} {down_after_ms}",
                    f"sentinel failover-timeout {MASTER_NAME} {failover_timeout_ms}",
                    f"sentinel parallel-syncs {MASTER_NAME} 1", ""]))
                cluster.sentinels.append(Node(port, node_dir, [binary, str(conf), "--sentinel"]).start())
            cluster.wait_ready()
        except Exception:
            cluster.stop()
            raise
        return cluster

    @property
    def addresses(self) -> str:
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    def master_port(self) -> int | None:
        for s in self.sentinels:
            try:
                found = s.client().execute_command("SENTINEL", "get-master-addr-by-name", MASTER_NAME)
                if found:
                    return int(found[1])
            except redis.RedisError:
                continue
        return None

    def node(self, port: int) -> Node:
        return next(n for n in self.data if n.port == port)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Every sentinel knows the master, its replica and the other sentinels; replica in sync."""
        def ready() -> bool:
            master = self.master_port()
            if master is None:
                return False
            for s in self.sentinels:
                info = s.client().execute_command("SENTINEL", "master", MASTER_NAME)
                info = dict(zip(info[::2], info[1::2])) if isinstance(info, list) else info
                info = {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
                        for k, v in info.items()}
                if int(info.get("num-slaves", 0)) < 1 or int(info.get("num-other-sentinels", 0)) < 2:
                    return False
            replicas = [n for n in self.data if n.port != master and n.process and n.process.poll() is None]
            return all(r.client().info("replication").get("master_link_status") == "up" for r in replicas)
        _until(ready, timeout, "the sentinels to see the master, a synced replica and each other")

    def kill_primary(self) -> int:
        port = self.master_port()
        self.node(port).kill()
        return port

    def wait_for_failover(self, old_port: int, timeout: float = 30.0) -> int:
        _until(lambda: self.master_port() not in (None, old_port), timeout, "a replica to be promoted")
        return self.master_port()

    def restart(self, port: int) -> None:
        self.node(port).start()

    def stop(self) -> None:
        for n in [*self.sentinels, *self.data]:
            n.stop()


@pytest.fixture
def sentinel_cluster(tmp_path):
    cluster = SentinelCluster.start(tmp_path / "redis")
    yield cluster
    cluster.stop()
