"""What every route needs: the Redis connection (made once per process)."""

from __future__ import annotations

from functools import cache

import redis

from notifier.db import connect, redis_url
from notifier.settings import get_settings


@cache
def get_redis() -> redis.Redis:
    return connect(redis_url(get_settings(), start_embedded=False))
