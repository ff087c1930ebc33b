"""One event loop and one HTTP session per worker process, kept between poll tasks.

A Celery task is synchronous; starting a loop and a session per task would throw away every
keep-alive connection after each batch, and reconnecting (TCP and TLS) costs more than the
conditional GET itself. So each process runs a loop in a daemon thread and keeps its sessions
(one per set of limits); tasks hand it their batch and wait for the results.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading

from notifier.fetch import FetchError, FetchLimits, FetchRequest, FetchResult, fetch_many, make_session

_lock = threading.Lock()
_state: dict = {}


def event_loop() -> asyncio.AbstractEventLoop:
    """This process's loop (a forked child makes its own: a loop does not survive a fork)."""
    with _lock:
        if _state.get("pid") != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="fetch-loop", daemon=True).start()
            _state.clear()
            _state.update(pid=os.getpid(), loop=loop, sessions={})
        return _state["loop"]


async def _session(limits: FetchLimits):
    sessions = _state["sessions"]
    if limits not in sessions or sessions[limits].closed:
        sessions[limits] = make_session(limits)
    return sessions[limits]


async def _fetch(requests: list[FetchRequest], limits: FetchLimits):
    return await fetch_many(requests, limits, session=await _session(limits))


def fetch_batch(requests: list[FetchRequest], limits: FetchLimits) -> list[FetchResult | FetchError]:
    """Fetch a batch on this process's loop, over its long-lived session; errors are returned."""
    if not requests:
        return []
    return asyncio.run_coroutine_threadsafe(_fetch(requests, limits), event_loop()).result()


async def _close_sessions() -> None:
    for session in list(_state.get("sessions", {}).values()):
        await session.close()


@atexit.register
def _close() -> None:
    """Close this process's sessions on the way out, so connections end cleanly."""
    if _state.get("pid") == os.getpid():
        try:
            asyncio.run_coroutine_threadsafe(_close_sessions(), _state["loop"]).result(timeout=2)
        except Exception:  # noqa: BLE001 - at exit, a session that will not close is not worth a traceback
            pass
