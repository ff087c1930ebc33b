"""A worker's heartbeat: every few seconds, per queue it consumes, in Redis (notifier.core.alive).

A thread of the worker's main process, so an idle worker (no deliveries for an hour) still
counts as alive, which a beat that rode on finished tasks could not tell.
"""

from __future__ import annotations

import logging
import threading

from notifier.core import alive
from notifier.core.db import shared_client
from notifier.settings import get_settings

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, worker: str, queues: list[str]):
        self.worker, self.queues = worker, queues
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="notifier-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stopped.is_set():
            self.beat_once()
            self.stopped.wait(alive.HEARTBEAT_EVERY)

    def beat_once(self) -> None:
        try:
            alive.beat(shared_client(), self.worker, self.queues)
            alive.touch(get_settings().data_dir, self.worker)
        except Exception as exc:  # noqa: BLE001 - a missed beat is what the healthcheck is for
            log.warning("heartbeat not recorded: %s", exc)

    def stop(self) -> None:
        self.stopped.set()
        try:
            alive.gone(shared_client(), self.worker, self.queues)
        except Exception:  # noqa: BLE001 - stopping anyway; the entry fades out after FRESH
            pass
