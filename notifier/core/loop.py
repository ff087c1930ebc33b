"""The process's one background event loop, and the HTTP sessions that live on it.

A Celery task is synchronous; starting a loop and a session per task would throw away every
keep-alive connection after each batch, and reconnecting (TCP and TLS) costs more than a
conditional GET or a webhook POST. So each process runs one loop in a daemon thread, shared by
feed fetching and the pooled webhook sender, and keeps their sessions between tasks. A forked
child makes its own loop: a loop and its sockets do not survive a fork.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

SWITCH_INTERVAL = 0.0005  # seconds
_lock = threading.Lock()
_state: dict = {}


def event_loop() -> asyncio.AbstractEventLoop:
    """This process's loop, started on first use."""
    with _lock:
        if _state.get("pid") != os.getpid():
            # The loop shares the GIL with the recording and task threads. At the default 5 ms
            # switch interval every I/O step of every fetch may wait that long behind their
            # Python work: each fetch took ~70 ms and 100 in flight did 1,400 polls/s on 0.7 of
            # a core (docs/performance.md). Shorter slices let the loop in sooner.
            sys.setswitchinterval(SWITCH_INTERVAL)
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="notifier-loop", daemon=True).start()
            _state.clear()
            _state.update(pid=os.getpid(), loop=loop, sessions={})
        return _state["loop"]


def running_here() -> bool:
    """True when this process has started its loop (nothing is started to find out)."""
    return _state.get("pid") == os.getpid()


def run(coroutine: Awaitable) -> Any:
    """Run a coroutine on the process's loop and wait for its result."""
    return submit(coroutine).result()


def submit(coroutine: Awaitable):
    """Start a coroutine on the process's loop; a concurrent.futures.Future of its result."""
    return asyncio.run_coroutine_threadsafe(coroutine, event_loop())


def kept(key: Hashable, make: Callable[[], Any]) -> Any:
    """The session kept under `key`, made anew when missing or closed. Call it on the loop.

    `make()` returns an object with `.closed` and `async close()` (an aiohttp session), or a
    tuple whose first item is one.
    """
    sessions = _state["sessions"]
    held = sessions.get(key)
    if held is None or _session_of(held).closed:
        held = sessions[key] = make()
    return held


def peek(key: Hashable) -> Any:
    """What is kept under `key`, or None; never makes one (readable from any thread)."""
    return _state.get("sessions", {}).get(key) if _state.get("pid") == os.getpid() else None


def all_kept(kind: str) -> list:
    """Everything kept under a key whose first part is `kind` (call it on the loop)."""
    return [
        held for key, held in _state.get("sessions", {}).items() if isinstance(key, tuple) and key[0] == kind
    ]


def _session_of(held):
    return held[0] if isinstance(held, tuple) else held


async def _close_sessions() -> None:
    for held in list(_state.get("sessions", {}).values()):
        await _session_of(held).close()


@atexit.register
def _close() -> None:
    """Close this process's sessions on the way out, so connections end cleanly."""
    if _state.get("pid") == os.getpid() and _state.get("sessions"):
        try:
            asyncio.run_coroutine_threadsafe(_close_sessions(), _state["loop"]).result(timeout=2)
        except Exception:  # noqa: BLE001 - at exit, a session that will not close is not worth a traceback
            pass


def call_soon(callback: Callable, *args) -> None:
    """Run callback(*args) on the process's loop, soon; from any thread, without waiting. It runs
    in a copy of the caller's context, so what it starts logs as the task that asked for it."""
    event_loop().call_soon_threadsafe(callback, *args, context=contextvars.copy_context())
