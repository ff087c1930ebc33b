"""What every route needs: the process's Redis client."""

from __future__ import annotations

import redis

from notifier.core.db import shared_client


def get_redis() -> redis.Redis:
    return shared_client()
