"""Who is alive: each worker says so in Redis every few seconds, for each queue it takes work from.

`alive:{queue}` is a sorted set of worker names scored by their last heartbeat; /readyz wants a
fresh one in every queue. A container's own healthcheck cannot ask Redis about itself without
knowing its worker name, so the same heartbeat also touches a file in the data dir, but only
after Redis took it: a fresh file means "this process runs and reaches Redis".
"""

from __future__ import annotations

import time
from pathlib import Path

import redis

FRESH = 30.0  # seconds: a worker beats every HEARTBEAT_EVERY, so three missed beats and more
HEARTBEAT_EVERY = 5.0
FORGET_AFTER = 24 * 3600  # a worker gone this long leaves the set


def beat(r: redis.Redis, worker: str, queues: list[str], now: float | None = None) -> None:
    now = now or time.time()
    pipe = r.pipeline(transaction=False)
    for queue in queues:
        pipe.zadd(f"alive:{queue}", {worker: now})
        pipe.zremrangebyscore(f"alive:{queue}", "-inf", now - FORGET_AFTER)
    pipe.set("heartbeat:worker", now, ex=3600)  # `notifier status` and the benchmarks read it
    pipe.execute()


def gone(r: redis.Redis, worker: str, queues: list[str]) -> None:
    """A worker stopping cleanly says so at once, instead of fading out after FRESH seconds."""
    pipe = r.pipeline(transaction=False)
    for queue in queues:
        pipe.zrem(f"alive:{queue}", worker)
    pipe.execute()


def counts(r: redis.Redis, queues: tuple[str, ...], now: float | None = None) -> dict[str, int]:
    """Workers heard from within FRESH seconds, per queue."""
    now = now or time.time()
    pipe = r.pipeline(transaction=False)
    for queue in queues:
        pipe.zcount(f"alive:{queue}", now - FRESH, "+inf")
    return dict(zip(queues, pipe.execute(), strict=True))


def touch(data_dir: Path, name: str) -> None:
    folder = Path(data_dir) / "alive"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).touch()


def fresh_file(data_dir: Path, within: float = FRESH) -> bool:
    """True if this data dir's process touched its heartbeat file within `within` seconds."""
    folder = Path(data_dir) / "alive"
    ages = [time.time() - p.stat().st_mtime for p in folder.glob("*")] if folder.is_dir() else []
    return bool(ages) and min(ages) < within
