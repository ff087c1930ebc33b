"""CPU of every process the service needs, through psutil: the headroom a figure claims counts the
tick, poll and deliver workers with their pool children, beat, the API and Redis, not one worker.

`start_service` starts the parts exactly as `notifier run` starts them (workers.supervisor), each as
a process group of its own under a `tests.service.Service`, so a benchmark can watch every one.
"""

from __future__ import annotations

import time

import psutil

from benchmarks.sampler import tree
from notifier.core.embedded import free_port
from workers.supervisor import child_commands


def start_service(svc, override: dict[str, list[str]] | None = None) -> dict[str, int]:
    """Every child of `notifier run` (an override replaces one's arguments after `-m workers`):
    {part: pid}. The API gets a free port: 8000 may be another run's."""
    pids, override = {}, override or {}
    for name, command in child_commands().items():
        argv = command[:3] + override[name] if name in override else command
        env = {"NOTIFIER_API_PORT": str(free_port())} if name == "api" else None
        pids[name] = svc.spawn(name, argv, env=env).pid
    return pids


def wait_up(r, svc, timeout: float = 90) -> None:
    """Until every queue has a live worker and a tick has run: start-up is not part of any figure."""
    deadline = time.monotonic() + timeout
    while not (all(r.zcard(f"alive:{q}") for q in ("tick", "poll", "deliver")) and r.get("heartbeat:tick")):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the service did not start in {timeout:.0f} s\n{svc.logs()[-3000:]}")
        time.sleep(0.1)


def redis_pid(r) -> int:
    return int(r.info("server")["process_id"])


def tree_cpu(pid: int) -> float:
    """CPU seconds of `pid` and every live descendant, with what their reaped children used."""
    total = 0.0
    for process in tree(pid):
        try:
            t = process.cpu_times()
        except psutil.NoSuchProcess:
            continue  # gone meanwhile: its time is in its parent's children_* once reaped
        total += t.user + t.system + t.children_user + t.children_system
    return total


def tree_rss_mb(pid: int) -> float:
    try:
        return sum(p.memory_info().rss for p in tree(pid)) / 1e6
    except psutil.NoSuchProcess:
        return 0.0


class Meter:
    """CPU seconds per part between two readings: `start()`, then `used()` as often as wanted."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids, self.base = pids, {}

    def read(self) -> dict[str, float]:
        return {name: tree_cpu(pid) for name, pid in self.pids.items()}

    def start(self) -> Meter:
        self.base = self.read()
        return self

    def used(self) -> dict[str, float]:
        return {name: cpu - self.base.get(name, 0.0) for name, cpu in self.read().items()}


def breakdown(cores: dict[str, float]) -> str:
    """'poll 0.91, tick 0.04, …' for a record's note: where the cores went."""
    return ", ".join(f"{name} {value:.2f}" for name, value in sorted(cores.items(), key=lambda kv: -kv[1]))
