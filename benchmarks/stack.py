"""A real stack for benchmarks: its own redis-server, feed server, sinks and notifier processes."""

from __future__ import annotations

import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
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


def side_by_side(processes: int, work: Callable[..., int], *args) -> tuple[int, float]:
    """work(*args) in `processes` forked processes at once, the way the service's pool runs:
    (everything done, the sum of each process's own rate). Each process times itself, so the fork
    is not counted against the limit. `work` must be a module-level function (it is pickled)."""
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
        results = list(pool.map(_timed, [work] * processes, [args] * processes))
    return sum(done for done, _ in results), sum(done / seconds for done, seconds in results)


def _timed(work: Callable[..., int], args: tuple) -> tuple[int, float]:
    started = time.perf_counter()
    done = work(*args)
    return done, time.perf_counter() - started
