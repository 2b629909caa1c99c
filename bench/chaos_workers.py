"""Chaos run helpers: real ``tiergate worker`` processes that can be SIGKILLed with their work-horses."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Any



# -- worker processes ---------------------------------------------------------------------------
def worker_env(settings: Any, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a ``tiergate worker`` needs to match ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENPY_", "ZENDESK_", "TIERGATE_"))}
    for name, var in type(settings).ENV.items():
        value = getattr(settings, name)
        if value is not None:
            env[var] = str(value)
    env.update(extra or {})
    return env


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (the RQ work-horse calls setpgrp, so a group kill misses it)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


@dataclass
class WorkerProc:
    """One ``python -m tiergate.plugin.cli worker`` subprocess."""

    env: dict[str, str]
    name: str
    log_path: str
    proc: subprocess.Popen | None = None

    def start(self) -> "WorkerProc":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tiergate.plugin.cli", "worker", "--name", f"{self.name}-{secrets.token_hex(3)}",
             "--log-level", "WARNING"], env=self.env, stdout=log, stderr=log, start_new_session=True)
        log.close()
        return self

    def horses(self) -> list[int]:
        return _children(self.proc.pid) if self.proc and self.proc.poll() is None else []

    def kill(self) -> None:
        """SIGKILL the worker and everything it forked (work-horse, scheduler), by pid."""
        if self.proc is None or self.proc.poll() is not None:
            return
        victims = _children(self.proc.pid)
        for pid in [self.proc.pid, *victims]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        victims = _children(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=8)
        except subprocess.TimeoutExpired:
            pass
        for pid in [self.proc.pid, *victims]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
