"""The HTTP API. For now only what `notifier run` needs: a health check."""

from __future__ import annotations

import time

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from notifier.db import connect, redis_url
from notifier.settings import get_settings

WORKER_FRESH = 60.0  # a worker writes its heartbeat after every task and every tick is a task
BEAT_FRESH = 10.0  # beat publishes a tick every second

app = FastAPI(title="notifier", docs_url=None, redoc_url=None)


def _age(value: str | None, now: float) -> float | None:
    return round(now - float(value), 1) if value else None


@app.get("/healthz")
def healthz() -> JSONResponse:
    now = time.time()
    try:
        r = connect(redis_url(get_settings(), start_embedded=False))
        worker, beat = r.mget("heartbeat:worker", "heartbeat:beat")
        redis_ok = True
    except Exception:  # noqa: BLE001 - health reports, it does not raise
        worker = beat = None
        redis_ok = False
    checks = {"redis": redis_ok, "worker_seen_s_ago": _age(worker, now), "beat_tick_s_ago": _age(beat, now)}
    healthy = (
        redis_ok
        and checks["worker_seen_s_ago"] is not None
        and checks["worker_seen_s_ago"] < WORKER_FRESH
        and checks["beat_tick_s_ago"] is not None
        and checks["beat_tick_s_ago"] < BEAT_FRESH
    )
    return JSONResponse({"ok": healthy, **checks}, status_code=200 if healthy else 503)
