"""The Celery broker seen from outside Celery: does it answer, how many messages wait per queue.

Used by /readyz and /metrics in the API process, which must not import Celery (the domain
never does); kombu is the messaging library under Celery and speaks both Redis and AMQP.
"""

from __future__ import annotations

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
