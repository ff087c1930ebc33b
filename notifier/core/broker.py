"""The Celery broker seen from outside Celery: does it answer, how many messages wait per queue.

Used by /readyz and /metrics in the API process, which must not import Celery (the domain
never does); kombu is the messaging library under Celery and speaks both Redis and AMQP.
"""

from __future__ import annotations

import socket
import uuid

from kombu import Connection

QUEUES = ("tick", "poll", "deliver")  # workers/app.py routes every task to one of these
TIMEOUT = 2.0  # seconds: a probe answers quickly, even about a broker that does not


class BrokerUnavailable(Exception):
    """The broker did not answer; the message says why, without credentials."""


def _connection(url: str) -> Connection:
    return Connection(
        url,
        connect_timeout=TIMEOUT,
        transport_options={"socket_timeout": TIMEOUT, "socket_connect_timeout": TIMEOUT, "max_retries": 0},
    )


def ping(url: str) -> None:
    """Raise BrokerUnavailable unless the broker accepts a connection now."""
    with _connection(url) as conn:
        try:
            conn.connect()
            conn.default_channel  # noqa: B018 - opening a channel is the real test (Redis pings here)
        except Exception as exc:  # noqa: BLE001 - any failure means "not answering"
            raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from None


def depths(url: str, queues: tuple[str, ...] = QUEUES) -> dict[str, int]:
    """Messages waiting in each queue (not counting those a worker holds unacknowledged)."""
    found = {}
    with _connection(url) as conn:
        conn.connect()
        for queue in queues:
            channel = conn.channel()
            try:
                found[queue] = channel.queue_declare(queue=queue, passive=True).message_count
            except Exception:  # noqa: BLE001 - a queue not declared yet holds nothing
                found[queue] = 0
            finally:
                try:
                    channel.close()
                except Exception:  # noqa: BLE001 - AMQP closed it already after a 404
                    pass
    return found


def enqueue(url: str, task: str, args: list, queue: str) -> str:
    """Send one Celery task message (protocol 2, JSON) from a process without Celery; its id.

    The API uses it to fan out a WebSub push at once instead of waiting for the next tick. It goes
    through the default exchange, which routes by queue name on Redis and on RabbitMQ alike and
    declares nothing, so a quorum queue's arguments are never contradicted. Raises
    BrokerUnavailable when the message could not be handed over."""
    task_id = str(uuid.uuid4())
    headers = {
        "lang": "py",
        "task": task,
        "id": task_id,
        "root_id": task_id,
        "parent_id": None,
        "group": None,
        "retries": 0,
        "eta": None,
        "expires": None,
        "timelimit": [None, None],
        "argsrepr": repr(args)[:200],
        "kwargsrepr": "{}",
        "origin": f"notifier-api@{socket.gethostname()}",
        "ignore_result": True,
    }
    body = [args, {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]
    try:
        with _connection(url) as conn:
            conn.Producer(serializer="json").publish(
                body, exchange="", routing_key=queue, headers=headers, correlation_id=task_id, retry=False
            )
    except Exception as exc:  # noqa: BLE001 - any failure means "not handed over"
        raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from None
    return task_id
