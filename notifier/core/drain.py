"""Work that is finished elsewhere, taken in as it comes: a thread that hands each item on at once,
or, when many arrive together, everything that queued up meanwhile in one call.

Fetches and sends end on the event loop one by one; recording each the moment it ends is what keeps
one slow feed or destination from holding the others' results. Taking in whatever has queued up in
one call is what keeps that cheap when busy: one Redis pipeline for a few hundred results, not a
round trip each. A `Countdown` lets a caller that wants to (the CLI, tests) wait for its own items;
an `InFlight` counts every item of a kind the process has begun and not yet taken in, so a process
that is stopping can wait for them instead of leaving them to a lease.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

MOST = 500  # items per call at most: a busy moment still records in steps of a few ms


class InFlight:
    """How many items this process has begun and not yet taken in; `wait_out` waits for none.

    A forked child starts at none: the parent's items are not its to wait for."""

    def __init__(self) -> None:
        self._pid, self._count, self._changed = os.getpid(), 0, threading.Condition()

    def add(self, count: int) -> None:
        with self._changed:
            if self._pid != os.getpid():
                self._pid, self._count = os.getpid(), 0
            self._count += count
            self._changed.notify_all()

    def wait_out(self, seconds: float) -> int:
        """Wait up to `seconds` for every item to be taken in; how many are left (0: all were)."""
        with self._changed:
            if self._pid != os.getpid():
                return 0
            self._changed.wait_for(lambda: self._count <= 0, timeout=seconds)
            return max(0, self._count)


class Countdown:
    """Done when `count` items have been taken in; `wait()` blocks until then. With `tally`, the
    items count in it too, from now until each is taken in."""

    def __init__(self, count: int, tally: InFlight | None = None) -> None:
        self._left, self._lock, self._done = count, threading.Lock(), threading.Event()
        self._tally = tally
        if tally is not None and count > 0:
            tally.add(count)
        if count <= 0:
            self._done.set()

    def one_done(self) -> None:
        with self._lock:
            self._left -= 1
            if self._left <= 0:
                self._done.set()
        if self._tally is not None:
            self._tally.add(-1)

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
