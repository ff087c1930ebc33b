"""Builds the Celery app: the broker (Redis, or RabbitMQ with quorum queues), JSON only, late
acks, one message at a time; and the signals that give every process our logs, heartbeats and
metrics."""

from __future__ import annotations

import logging
import time

from celery import Celery, signals
from kombu import Queue

from notifier.core import alive, logs, metrics
from notifier.core.broker import QUEUES
from notifier.core.db import broker_url, shared_client
from notifier.settings import Settings, get_settings
from workers.heartbeat import Heartbeat

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


def broker_options(url: str, settings: Settings) -> dict:
    """What differs between the two brokers we support."""
    if url.startswith(("amqp://", "amqps://", "pyamqp://")):
        # quorum queues: replicated on a RabbitMQ cluster and durable, so a broker node lost
        # loses no message; publisher confirms: a publish returns once the broker has it
        quorum = {"x-queue-type": "quorum"}
        return {
            "task_queues": [
                Queue(q, routing_key=q, queue_arguments=quorum)
                for q in dict.fromkeys([*QUEUES, settings.fanout_queue])
            ],
            "broker_transport_options": {"confirm_publish": True},
        }
    # we never use countdown/eta (retries wait in a Redis sorted set instead), so this only
    # has to outlast the longest task
    return {"broker_transport_options": {"visibility_timeout": settings.visibility_timeout}}


def make_app() -> Celery:
    settings = get_settings()
    url = broker_url(settings)
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
            # fan-out waits on Redis for a story's every topic and subscriber: on the poll queue
            # it held a poll process's task thread while the next poll batches waited behind it
            # (50,000 feeds: 500 messages queued, 43,000 feeds claimed and unfetched)
            "workers.tasks.fan_out": {"queue": settings.fanout_queue},
            "workers.tasks.renew_websub": {"queue": "poll"},
            "workers.tasks.deliver": {"queue": "deliver"},
        },
        task_default_queue="poll",
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        beat_schedule=beat_schedule(),
        timezone="UTC",
        **broker_options(url, settings),
    )
    return app


app = make_app()


# Celery's own line for every task received and done, and beat's for every tick sent: three lines
# a second at INFO. Below DEBUG they are hidden; our own INFO lines say what was found and sent.
CHATTY_LOGGERS = ("celery.app.trace", "celery.worker.strategy", "celery.beat")


@signals.setup_logging.connect
def _our_logging(loglevel=None, **_):
    """Connected, this replaces Celery's logging set-up with ours: one format, one redaction."""
    settings = get_settings()
    logs.setup(settings.log_level, settings.log_format)
    quiet = logging.DEBUG if settings.log_level == "DEBUG" else logging.WARNING
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(quiet)


@signals.task_prerun.connect
def _task_context(task_id=None, task=None, **_):
    logs.TASK.set(task.name if task else None)
    logs.REQUEST_ID.set(task_id)


@signals.task_postrun.connect
def _task_done(**_):
    metrics.flush()
    logs.TASK.set(None)
    logs.REQUEST_ID.set(None)


_heartbeats: list[Heartbeat] = []


@signals.worker_ready.connect
def _start_heartbeat(sender=None, **_):
    queues = sorted(q.name for q in sender.app.amqp.queues.consume_from.values())
    _heartbeats.append(Heartbeat(sender.hostname, queues).start())


@signals.worker_shutdown.connect
def _stop_heartbeat(**_):
    for heartbeat in _heartbeats:
        heartbeat.stop()


@signals.before_task_publish.connect
def _beat_heartbeat(sender=None, **_):
    if sender == "workers.tasks.tick":
        try:
            shared_client().set("heartbeat:beat", time.time(), ex=3600)
            alive.touch(get_settings().data_dir, "beat")
        except Exception:  # noqa: BLE001 - a heartbeat must never break the publish it rides on
            pass


@signals.worker_shutdown.connect  # solo and threads pools: the sends are in this process
@signals.worker_process_shutdown.connect  # a prefork pool process on its way out
def _finish_sends(**_):
    """Celery has stopped taking tasks; the sends they started still end and are recorded."""
    from notifier import pipeline  # here, not at the top: beat and the API need none of it

    pipeline.finish_sends(get_settings())


@signals.worker_process_shutdown.connect
def _hand_back_polls(**_):
    """A poll process on its way out gives back the feeds it had not fetched yet."""
    from notifier import pipeline  # here, not at the top: beat and the API need none of it

    try:
        pipeline.hand_back_polls(shared_client())
    except Exception:  # noqa: BLE001 - the lease brings them back anyway, a little later
        logging.getLogger(__name__).warning("could not give back the feeds in flight", exc_info=True)
