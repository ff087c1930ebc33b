"""Every process the service needs, each where a benchmark can watch it: the headroom a figure
claims counts the tick, poll and deliver workers with their pool children, beat, the API and
Redis, not one worker (benchmarks.sampler reads their CPU).

`start_service` starts the parts exactly as `notifier run` starts them (workers.supervisor), each as
a process group of its own under a `tests.service.Service`, so a benchmark can watch every one.
"""

from __future__ import annotations

import time

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


def breakdown(cores: dict[str, float]) -> str:
    """'poll 0.91, tick 0.04, …' for a record's note: where the cores went."""
    return ", ".join(f"{name} {value:.2f}" for name, value in sorted(cores.items(), key=lambda kv: -kv[1]))
