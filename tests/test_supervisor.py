"""`notifier run` killed with SIGKILL (the supervisor alone, as `kill -9 PID` does) takes its
children with it: no worker, beat, API or embedded redis-server is left running as an orphan to
hold the API port, or to share the append-only file with the redis-server of the next start."""

from __future__ import annotations

import os
import signal

import pytest
import redis

from tests.faults.soak.cast import group_members
from tests.operating import ready
from tests.service import Service, wait_until
from tests.sinks import free_port

pytestmark = pytest.mark.e2e


def live(pgid: int) -> list[int]:
    return [pid for pid, state in group_members(pgid) if state != "Z"]


def answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def test_a_node_killed_with_sigkill_leaves_no_child_running(tmp_path):
    port, data = free_port(), tmp_path / "data"
    with Service({"NOTIFIER_DATA_DIR": str(data), "NOTIFIER_API_PORT": str(port)}, tmp_path) as service:
        service.env.pop("REDIS_URL", None)
        proc = service.start("run", "run")
        assert wait_until(lambda: ready(port), timeout=90), service.logs()
        embedded = (data / "redis.url").read_text().strip()
        assert len(live(proc.pid)) >= 6, service.logs()  # itself, 3 workers (and their pools), beat, API

        proc.kill()
        proc.wait()
        service.procs.clear()
        try:
            assert wait_until(lambda: not live(proc.pid), timeout=30), f"orphans: {live(proc.pid)}"
            assert wait_until(lambda: not answers(embedded), timeout=15), "the embedded Redis lives on"
        finally:  # a failure must not leave them running either
            for pid in live(proc.pid):
                os.kill(pid, signal.SIGKILL)
            if answers(embedded):
                redis.Redis.from_url(embedded).shutdown(nosave=True)
