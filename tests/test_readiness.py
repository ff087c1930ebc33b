"""/healthz says the API process serves; /readyz says the service can work, and stops saying so
when Redis goes away, a queue has no worker, or the tick stops; both come back by themselves."""

from __future__ import annotations

import time

import httpx
import pytest

from notifier.core.embedded import EmbeddedRedis
from tests.operating import readiness, ready
from tests.service import Service, wait_until
from tests.sinks import free_port

pytestmark = pytest.mark.e2e


def test_readyz_wants_a_worker_for_every_queue_and_goes_unready_when_redis_stops(tmp_path):
    redis_port, port = free_port(), free_port()
    server = EmbeddedRedis(tmp_path / "redis", port=redis_port).start()
    env = {
        "REDIS_URL": server.url,
        "NOTIFIER_DATA_DIR": str(tmp_path / "data"),
        "NOTIFIER_API_PORT": str(port),
    }
    try:
        with Service(env, tmp_path) as service:
            service.start("api", "api")
            service.start("tick", "worker", "--queues", "tick", "--pool", "solo", "--name", "tick")
            service.start("beat", "beat")

            def waiting_for_workers():
                answer = readiness(port)
                return answer and answer[1]["checks"]["tick"]["ok"] and answer

            status, body = wait_until(waiting_for_workers, timeout=60) or (None, None)
            assert status == 503, service.logs()
            assert body["checks"]["workers"] == {"ok": False, "alive": {"tick": 1, "poll": 0, "deliver": 0}}

            service.start("rest", "worker", "--queues", "poll,deliver", "--pool", "threads", "--name", "rest")
            assert wait_until(lambda: ready(port), timeout=60), service.logs()

            server.stop()
            stopped = time.monotonic()
            status, body = wait_until(lambda: (a := readiness(port)) and a[0] == 503 and a, timeout=10)
            assert time.monotonic() - stopped < 6
            assert not body["checks"]["redis"]["ok"] and not body["checks"]["broker"]["ok"]
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"ok": True}

            server = EmbeddedRedis(tmp_path / "redis", port=redis_port).start()
            assert wait_until(lambda: ready(port), timeout=90), service.logs()
    finally:
        server.stop()
