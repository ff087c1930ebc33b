"""What a worker and beat write: at INFO, nothing for the once-a-second tick; at DEBUG, every tick."""

from __future__ import annotations

import pytest
import redis

from tests.service import Service, wait_until

pytestmark = pytest.mark.e2e

TICK_LINES = ("Task workers.tasks.tick[", "Sending due task tick")  # received, succeeded; sent


def logs_after_ticks(tmp_path, redis_url: str, level: str, ticks: int = 5) -> str:
    """Run a tick worker and beat until the tick has run `ticks` times; return what they logged."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    seen: set[str] = set()

    def ticked() -> bool:
        value = client.get("heartbeat:tick")  # the tick writes its time there every run
        seen.update([value] if value else [])
        return len(seen) >= ticks

    env = {"REDIS_URL": redis_url, "NOTIFIER_DATA_DIR": str(tmp_path / "data"), "NOTIFIER_LOG_LEVEL": level}
    with Service(env, tmp_path) as service:
        service.start("worker", "worker", "--queues", "tick", "--pool", "solo", "--name", "ticker")
        service.start("beat", "beat")
        assert wait_until(ticked, timeout=40), service.logs()
    return "\n".join(p.read_text(errors="replace") for p in tmp_path.glob("*.log"))


def chatter(logs: str) -> list[str]:
    return [line for line in logs.splitlines() if any(mark in line for mark in TICK_LINES)]


def test_at_info_the_tick_writes_no_line_per_second(tmp_path, redis_url):
    logs = logs_after_ticks(tmp_path, redis_url, "INFO")
    assert "ticker@" in logs  # the worker started and logged at INFO
    assert chatter(logs) == []


def test_at_debug_every_tick_is_logged(tmp_path, redis_url):
    logs = logs_after_ticks(tmp_path, redis_url, "DEBUG")
    assert len(chatter(logs)) >= 5, logs[-3000:]
