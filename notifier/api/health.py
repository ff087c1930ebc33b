"""GET /healthz (this process serves) and GET /readyz (the service can do its work).

/readyz: Redis and the broker answer, a tick ran within TICK_FRESH seconds, and a worker of
each queue sent its heartbeat lately (notifier.core.alive). It answers within a few seconds
even when Redis hangs: it asks through a client of its own with short timeouts.
"""

from __future__ import annotations

import time
from functools import cache

import redis
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from notifier.core import alive, broker
from notifier.core.db import broker_url, redis_url
from notifier.settings import get_settings

TICK_FRESH = 10.0  # beat asks for a tick every second; ten missed ticks mean nothing gets claimed
PROBE_TIMEOUT = 2.0

router = APIRouter()


@cache
def probe_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, decode_responses=True, socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT
    )


@router.get("/healthz")
def healthz() -> JSONResponse:
    return JSONResponse({"ok": True})


@router.get("/readyz")
def readyz() -> JSONResponse:
    checks = readiness()
    ready = all(check["ok"] for check in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


def readiness(now: float | None = None) -> dict[str, dict]:
    now = now or time.time()
    settings = get_settings()
    checks = {"redis": {"ok": False}, "broker": broker_check(settings)}
    try:
        r = probe_client(redis_url(settings, start_embedded=False))
        tick, workers = r.get("heartbeat:tick"), alive.counts(r, broker.QUEUES, now)
    except redis.RedisError as exc:
        checks["redis"]["error"] = f"{type(exc).__name__}: {exc}"
        checks["tick"] = {"ok": False, "error": "Redis does not answer"}
        checks["workers"] = {"ok": False, "error": "Redis does not answer"}
        return checks
    checks["redis"]["ok"] = True
    age = round(now - float(tick), 1) if tick else None
    checks["tick"] = {"ok": age is not None and age < TICK_FRESH, "age_s": age}
    checks["workers"] = {"ok": all(workers.values()), "alive": workers}
    return checks


def broker_check(settings) -> dict:
    try:
        broker.ping(broker_url(settings))
    except broker.BrokerUnavailable as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True}
