"""Thin tasks: look up ids, call one step of `notifier.pipeline`, enqueue what it returns.

Every task is safe to run twice (claims in Redis decide who does the work), which is what makes
`acks_late` safe.
"""

from __future__ import annotations

from notifier import pipeline
from notifier.core.db import shared_client
from notifier.core.due import chunks
from notifier.settings import get_settings
from workers.app import app

POLL_BATCH = 200  # feeds handed to a poll process's event loop by one task
DELIVER_BATCH = 20
BIG_DELIVER_BATCH = 200  # a story for thousands: fewer messages (each costs ~1.5 ms to enqueue)
# a story for a million: 5,000 messages of 200 took 5-7 s to enqueue here, 1,000 of 1,000 1-4 s
HUGE_DELIVER_BATCH = 1000


def spread(count: int, parts: int = 8) -> int:
    """Deliveries per task: a handful shared among workers, thousands in big batches."""
    if count > 100 * HUGE_DELIVER_BATCH:
        return HUGE_DELIVER_BATCH
    if count > 10 * BIG_DELIVER_BATCH:
        return BIG_DELIVER_BATCH
    return min(DELIVER_BATCH, max(1, -(-count // parts)))


@app.task(ignore_result=True)
def tick() -> None:
    due = pipeline.claim_due_work(shared_client(), get_settings())
    for batch in chunks(due.feeds, POLL_BATCH):
        poll.delay(batch)
    if due.stories:
        fan_out.delay(due.stories)
    for batch in chunks(due.deliveries, spread(len(due.deliveries))):
        deliver.delay(batch)
    if due.renewals:
        renew_websub.delay(due.renewals)


@app.task(ignore_result=True)
def renew_websub(feed_ids: list[str]) -> None:
    pipeline.renew_subscriptions(shared_client(), feed_ids, get_settings())


@app.task(ignore_result=True)
def poll(feed_ids: list[str]) -> None:
    """Hands the feeds to this process's event loop and returns: each is recorded as its own fetch
    ends, and its new stories are fanned out right then (`fan_out_now`, on the recording thread)."""
    pipeline.start_polls(shared_client(), feed_ids, get_settings(), on_new=fan_out_now)


def fan_out_now(story_ids: list[str]) -> None:
    fan_out.delay(story_ids)


@app.task(ignore_result=True)
def fan_out(story_ids: list[str]) -> None:
    pipeline.route_stories(shared_client(), story_ids, get_settings(), on_created=Enqueue())


class Enqueue:
    """Deliver tasks for each step of a fan-out as it is recorded, batched by the count so far:
    a story for a few gets small batches shared among workers, one for a million big ones."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, created: list[str]) -> None:
        self.count += len(created)
        for batch in chunks(created, spread(self.count)):
            deliver.delay(batch)


@app.task(ignore_result=True)
def deliver(delivery_ids: list[str]) -> None:
    """Starts the sends on this process's event loop and lane threads and returns: each is
    recorded as it ends, so a destination that hangs holds neither this task nor anyone else."""
    pipeline.start_alerts(shared_client(), delivery_ids, get_settings())
