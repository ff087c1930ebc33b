"""Shares of the connections a process opens, so one slow host or destination holds only its own.

`Lanes` (on the event loop): at most `per_key` pieces of work at once per host, and `overall` at
once in all. Work that has run `quick` seconds gives its overall slot back early: by then it is
waiting on its host, not using us, and a handful of hosts that hang must not starve every other
host of slots. `SerialLanes` (threads): one thread per destination for blocking sends, so a
destination's messages go out in order over its own connection and one that hangs holds only its
own thread. Both tell when a key's work has stopped moving (`stalled`), so a caller can stop
handing more to a destination that hangs instead of queueing it there.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

QUICK = 2.0  # seconds: a fetch or send still running after this is held up by its host


class Lanes:
    """Per-key and overall caps for coroutines on one event loop (make and use it on that loop)."""

    def __init__(self, per_key: int, overall: int = 0, quick: float = QUICK) -> None:
        self.per_key, self.quick = per_key, quick
        self._slots = asyncio.Semaphore(overall) if overall else None
        self._keys: dict[str, asyncio.Semaphore] = {}
        self._waiting: dict[str, int] = {}
        self._since: dict[str, float] = {}  # key -> when it last finished something, or began waiting

    def stalled(self, key: str, seconds: float) -> bool:
        """Work for `key` is waiting and none of it has finished for `seconds` (from any thread)."""
        return _stalled(self._waiting, self._since, key, seconds)

    async def run(self, key: str, work: Callable[[], Awaitable]) -> Any:
        lane = self._keys.get(key)
        if lane is None:
            lane = self._keys[key] = asyncio.Semaphore(self.per_key)
        _began(self._waiting, self._since, key)
        try:
            async with lane:
                return await self._overall(work)
        finally:
            if _ended(self._waiting, self._since, key):  # nobody left for this host: forget it
                del self._keys[key]

    async def _overall(self, work: Callable[[], Awaitable]) -> Any:
        if self._slots is None:
            return await work()
        await self._slots.acquire()
        held = [True]

        def give_back() -> None:
            if held[0]:
                held[0] = False
                self._slots.release()

        timer = asyncio.get_running_loop().call_later(self.quick, give_back)
        try:
            return await work()
        finally:
            timer.cancel()
            give_back()


class SerialLanes:
    """One worker thread per key, made on first use; at most `most` keys keep a thread of their
    own (past that the least recently used lane is wound down once its queue is done)."""

    def __init__(self, name: str, most: int = 64) -> None:
        self.name, self.most = name, most
        self._lock, self._pid = threading.Lock(), None
        self._lanes: OrderedDict[Any, ThreadPoolExecutor] = OrderedDict()
        self._waiting: dict[Any, int] = {}
        self._since: dict[Any, float] = {}

    def stalled(self, key, seconds: float) -> bool:
        """Work for `key` is waiting and none of it has finished for `seconds`."""
        return _stalled(self._waiting, self._since, key, seconds)

    def submit(self, key, fn: Callable, *args) -> Future:
        """Run fn(*args) on `key`'s thread after everything queued there before it."""
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's threads are not ours
                self._lanes, self._waiting, self._since, self._pid = OrderedDict(), {}, {}, os.getpid()
            lane = self._lanes.pop(key, None) or ThreadPoolExecutor(1, thread_name_prefix=self.name)
            self._lanes[key] = lane  # last: the most recently used
            while len(self._lanes) > self.most:
                self._lanes.popitem(last=False)[1].shutdown(wait=False)
            _began(self._waiting, self._since, key)
        future = lane.submit(fn, *args)
        future.add_done_callback(lambda _: self._done(key))
        return future

    def _done(self, key) -> None:
        with self._lock:
            _ended(self._waiting, self._since, key)


def _began(waiting: dict, since: dict, key) -> None:
    if not waiting.get(key):
        since[key] = time.monotonic()
    waiting[key] = waiting.get(key, 0) + 1


def _ended(waiting: dict, since: dict, key) -> bool:
    """Count one piece of work for `key` done; True when none is left."""
    waiting[key] = waiting.get(key, 1) - 1
    since[key] = time.monotonic()
    if waiting[key] > 0:
        return False
    waiting.pop(key, None)
    since.pop(key, None)
    return True


def _stalled(waiting: dict, since: dict, key, seconds: float) -> bool:
    return waiting.get(key, 0) > 0 and time.monotonic() - since.get(key, time.monotonic()) > seconds
