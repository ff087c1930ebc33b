"""GET /healthz: Redis reachable, a worker seen lately, beat ticking."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from notifier.api.deps import get_redis

WORKER_FRESH = 60.0  # a worker writes its heartbeat after every task, and a tick is a task a second
BEAT_FRESH = 10.0  # beat publishes a tick every second

router = APIRouter()


def _age(value: str | None, now: float) -> float | None:
    return round(now - float(value), 1) if value else None


def _fresh(age: float | None, limit: float) -> bool:
    return age is not None and age < limit


@router.get("/healthz")
def healthz() -> JSONResponse:
    now = time.time()
    try:
        worker, beat = get_redis().mget("heartbeat:worker", "heartbeat:beat")
        redis_ok = True
    except Exception:  # noqa: BLE001 - health reports, it does not raise
        worker = beat = None
        redis_ok = False
    checks = {"redis": redis_ok, "worker_seen_s_ago": _age(worker, now), "beat_tick_s_ago": _age(beat, now)}
    healthy = (
        redis_ok
        and _fresh(checks["worker_seen_s_ago"], WORKER_FRESH)
        and _fresh(checks["beat_tick_s_ago"], BEAT_FRESH)
    )
    return JSONResponse({"ok": healthy, **checks}, status_code=200 if healthy else 503)
