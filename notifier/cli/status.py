"""`notifier status`: feeds and their last poll, queue depths, delivery counts, what is waiting,
and the notification URLs that keep failing."""

from __future__ import annotations

from notifier.alerts import ledger
from notifier.cli import output
from notifier.cli.common import JsonFlag, redis
from notifier.stories import store

QUEUES = ("tick", "poll", "deliver")  # the Celery queues (workers/app.py); each is a Redis list


def show_status(as_json: JsonFlag = False) -> None:
    """Feeds and their last poll, queue depths, delivery counts, what waits, failing URLs."""
    output.print_status(gather_status(redis()), as_json)


def gather_status(r) -> dict:
    done = ledger.summary(r)
    return {
        "feeds": [output.feed_json(f) for f in store.list_feeds(r)],
        "queues": {q: r.llen(q) for q in QUEUES},
        "deliveries": done["counts"],
        "deliveries_waiting": done["waiting"],
        "stories_waiting": r.zcard("stories:pending"),
        "failing_urls": done["failing_urls"],
    }
