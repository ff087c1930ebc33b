"""A real stack for benchmarks: its own redis-server, feed server, sinks and notifier processes."""

from __future__ import annotations

import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from notifier.core.embedded import EmbeddedRedis  # noqa: E402
from tests.service import Service  # noqa: E402


@contextmanager
def own_redis():
    with tempfile.TemporaryDirectory() as data, EmbeddedRedis(Path(data)) as server:
        yield server.url


@contextmanager
def service(redis_url: str, **extra: str):
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "REDIS_URL": redis_url,
            "NOTIFIER_DATA_DIR": tmp,
            "NOTIFIER_ALLOW_PRIVATE_HOSTS": "true",
            "NOTIFIER_MIN_INTERVAL": "1",
            "NOTIFIER_LOG_LEVEL": "WARNING",
            **extra,
        }
        with Service(env, Path(tmp)) as svc:
            yield svc
