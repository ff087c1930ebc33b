"""Finding and connecting to Redis: the configured one, or the embedded one."""

from __future__ import annotations

import atexit
import logging
import time
from collections.abc import Callable
from functools import cache
from typing import TypeVar

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from notifier.core import embedded
from notifier.settings import Settings, get_settings

log = logging.getLogger(__name__)
T = TypeVar("T")


class RedisUnavailable(Exception):
    """Redis cannot be reached; the message says which and why, without credentials."""


class RedisMisconfigured(RedisUnavailable):
    """Redis is up but set to lose data we rely on; the message says what to change."""


def redis_url(settings: Settings, *, start_embedded: bool = True) -> str:
    """REDIS_URL if set; else the embedded server, started for this process if none runs."""
    if settings.redis_url:
        return settings.redis_url
    url = embedded.running_url(settings.data_dir)
    if url or not start_embedded:
        return url or ""
    server = embedded.EmbeddedRedis(settings.data_dir).start()
    atexit.register(server.stop)  # a one-off CLI command: the data stays in the append-only file
    return server.url


def broker_url(settings: Settings) -> str:
    """NOTIFIER_BROKER_URL if set (RabbitMQ, say); else the Redis that is also the store."""
    return settings.broker_url or redis_url(settings, start_embedded=False)


# Long-running processes ride out a Redis restart of ~10 s: a ledger write that failed after its
# alert went out would otherwise make the alert go out again (tests/faults/test_fault_redis_restart.py).
PATIENT = {
    "retry": Retry(ExponentialBackoff(cap=2.0, base=0.1), 10),
    "retry_on_error": [RedisConnectionError],
}


def outlasting(write: Callable[[], T], seconds: float, what: str) -> T:
    """`write()`, tried again while Redis cannot be reached, for up to `seconds` more than the
    patient client's own ~13 s; then its error. For a write that must land (a send's outcome):
    it stops nothing else, since it runs on the thread that records outcomes."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return write()
        except RedisConnectionError:
            if time.monotonic() >= deadline:
                raise
            log.warning("Redis unreachable: %s waits for it", what)
            time.sleep(1.0)


def connect(url: str, *, patient: bool = False) -> redis.Redis:
    options = PATIENT if patient else {}
    client = redis.Redis.from_url(url, decode_responses=True, health_check_interval=30, **options)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise RedisUnavailable(f"cannot reach Redis at {safe_url(url)}: {exc}") from None
    refuse_eviction(client, url)
    return client


def refuse_eviction(client: redis.Redis, url: str) -> None:
    """A Redis that evicts keys under memory pressure would drop ledger rows, claims and leases
    without a word: alerts lost or sent twice. Only `noeviction` fails loudly instead."""
    try:
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
    except redis.ResponseError:  # CONFIG renamed away, as managed Redis services do: nothing to read
        return
    if policy and policy != "noeviction":
        raise RedisMisconfigured(
            f"Redis at {safe_url(url)} has maxmemory-policy {policy}; notifier needs noeviction "
            "(evicted keys lose or repeat alerts): set `maxmemory-policy noeviction`"
        )


@cache
def _shared(url: str) -> redis.Redis:
    return connect(url, patient=True)


def shared_client() -> redis.Redis:
    """The process's one client for the running Redis (REDIS_URL or the embedded server already up).

    Workers, beat and the API share it; redis-py's pool makes new connections after a fork.
    """
    return _shared(redis_url(get_settings(), start_embedded=False))


def safe_url(url: str) -> str:
    """A Redis URL without its password, for messages."""
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
