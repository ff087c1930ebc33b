"""Work that is finished elsewhere, taken in as it comes: a thread that hands each item on at once,
or, when many arrive together, everything that queued up meanwhile in one call.

Fetches and sends end on the event loop one by one; recording each the moment it ends is what keeps
one slow feed or destination from holding the others' results. Taking in whatever has queued up in
one call is what keeps that cheap when busy: one Redis pipeline for a few hundred results, not a
round trip each. A `Countdown` lets a caller that wants to (the CLI, tests) wait for its own items.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

MOST = 500  # items per call at most: a busy moment still records in steps of a few ms


class Countdown:
    """Done when `count` items have been taken in; `wait()` blocks until then."""

    def __init__(self, count: int) -> None:
        self._left, self._lock, self._done = count, threading.Lock(), threading.Event()
        if count <= 0:
            self._done.set()

    def one_done(self) -> None:
        with self._lock:
            self._left -= 1
            if self._left <= 0:
                self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)


class Drain:
    """A daemon thread per process calling `handle(items)` for what `put` queued, in order.

    Items queued with handlers that compare equal are handed over together; a handler's exception
    is logged and never stops the thread. A forked child starts a thread of its own on first use.
    """

    def __init__(self, name: str, most: int = MOST) -> None:
        self.name, self.most = name, most
        self._lock, self._pid, self._queue = threading.Lock(), None, queue.SimpleQueue()

    def put(self, handle: Callable[[list], None], item) -> None:
        if self._pid != os.getpid():
            self._start()
        self._queue.put((handle, item))

    def _start(self) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._queue = queue.SimpleQueue()  # the parent's queue and thread are not ours
                threading.Thread(target=self._run, args=(self._queue,), name=self.name, daemon=True).start()
                self._pid = os.getpid()

    def _run(self, waiting: queue.SimpleQueue) -> None:
        while True:
            batch = [waiting.get()]
            while len(batch) < self.most:
                try:
                    batch.append(waiting.get_nowait())
                except queue.Empty:
                    break
            for handle, items in _grouped(batch):
                try:
                    handle(items)
                except Exception:  # noqa: BLE001 - the thread must outlive any one batch
                    log.exception("%s: could not take in %d item(s)", self.name, len(items))


def _grouped(batch: list[tuple]) -> list[tuple[Callable, list]]:
    groups: list[tuple[Callable, list]] = []
    for handle, item in batch:
        same = next((items for known, items in groups if known == handle), None)
        if same is None:
            groups.append((handle, [item]))
        else:
            same.append(item)
    return groups
