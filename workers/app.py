"""Builds the Celery app: Redis broker, JSON only, late acks, one message at a time."""

from __future__ import annotations

import logging
import time

from celery import Celery, signals

from notifier.core.db import redis_url, shared_client
from notifier.core.redact import RedactingFilter
from notifier.settings import get_settings

TICK_SECONDS = 1.0


def beat_schedule() -> dict:
    """Beat's one entry: a tick every second. Feeds are not beat entries (beat tops out near
    1,000 messages/s); the tick claims whatever is due from Redis sorted sets instead."""
    return {
        "tick": {
            "task": "workers.tasks.tick",
            "schedule": TICK_SECONDS,
            "options": {"expires": 5 * TICK_SECONDS},
        }
    }


def make_app() -> Celery:
    settings = get_settings()
    url = redis_url(settings, start_embedded=False)
    app = Celery("notifier", broker=url, include=["workers.tasks"])
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        # a task is acknowledged only when done, and given back if its worker dies mid-way:
        # safe because every task is idempotent (see notifier.ledger)
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # polls and sends on separate queues: a slow provider never delays the next poll
        task_routes={
            # the tick has a queue of its own: stuck behind a long poll batch it would stop
            # claiming anything (feeds, stories to fan out, deliveries) until that batch ends
            "workers.tasks.tick": {"queue": "tick"},
            "workers.tasks.poll": {"queue": "poll"},
            "workers.tasks.fan_out": {"queue": "poll"},
            "workers.tasks.deliver": {"queue": "deliver"},
        },
        task_default_queue="poll",
        # we never use countdown/eta (retries wait in a Redis sorted set instead), so this only
        # has to outlast the longest task
        broker_transport_options={"visibility_timeout": settings.visibility_timeout},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        beat_schedule=beat_schedule(),
        timezone="UTC",
    )
    return app


app = make_app()


# Celery's own line for every task received and done, and beat's for every tick sent: three lines
# a second at INFO. Below DEBUG they are hidden; our own INFO lines say what was found and sent.
CHATTY_LOGGERS = ("celery.app.trace", "celery.worker.strategy", "celery.beat")


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _redact_celery_logs(logger=None, loglevel=None, **_):
    for handler in logger.handlers if logger else ():
        handler.addFilter(RedactingFilter())
    quiet = logging.DEBUG if _level(loglevel) <= logging.DEBUG else logging.WARNING
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(quiet)


def _level(loglevel) -> int:
    if isinstance(loglevel, int):
        return loglevel
    return logging.getLevelName(str(loglevel or "INFO").upper()) if loglevel else logging.INFO


@signals.worker_ready.connect
@signals.task_postrun.connect
def _worker_heartbeat(**_):
    _beat_or_worker_seen("heartbeat:worker")


@signals.before_task_publish.connect
def _beat_heartbeat(sender=None, **_):
    if sender == "workers.tasks.tick":
        _beat_or_worker_seen("heartbeat:beat")


@signals.worker_process_shutdown.connect
def _hand_back_polls(**_):
    """A poll process on its way out gives back the feeds it had not fetched yet."""
    from notifier import pipeline  # here, not at the top: beat and the API need none of it

    try:
        pipeline.hand_back_polls(shared_client())
    except Exception:  # noqa: BLE001 - the lease brings them back anyway, a little later
        logging.getLogger(__name__).warning("could not give back the feeds in flight", exc_info=True)


def _beat_or_worker_seen(key: str) -> None:
    try:
        shared_client().set(key, time.time(), ex=3600)
    except Exception:  # noqa: BLE001 - a heartbeat must never break the task it rides on
        pass
