"""Thin tasks: look up ids, call one domain function, enqueue what it returns."""

from __future__ import annotations

from functools import cache

from notifier import pipeline, websub
from notifier.db import connect, redis_url
from notifier.schedule import chunks
from notifier.settings import get_settings
from workers.app import app

POLL_BATCH = 200  # feeds fetched concurrently by one task, over its process's kept-alive session
DELIVER_BATCH = 20
BIG_DELIVER_BATCH = 200  # a story for thousands: fewer messages (each costs ~1.5 ms to enqueue)


def spread(count: int, parts: int = 8) -> int:
    """Deliveries per task: a handful shared among workers, thousands in big batches."""
    if count > 10 * BIG_DELIVER_BATCH:
        return BIG_DELIVER_BATCH
    return min(DELIVER_BATCH, max(1, -(-count // parts)))


@cache
def redis():
    return connect(redis_url(get_settings(), start_embedded=False))


@app.task(ignore_result=True)
def tick() -> None:
    due = pipeline.tick(redis(), get_settings())
    for batch in chunks(due.feeds, POLL_BATCH):
        poll.delay(batch)
    if due.stories:
        fan_out.delay(due.stories)
    for batch in chunks(due.deliveries, spread(len(due.deliveries))):
        deliver.delay(batch)
    renewals = websub.claim_renewals(redis())
    if renewals:
        renew_websub.delay(renewals)


@app.task(ignore_result=True)
def renew_websub(feed_ids: list[str]) -> None:
    websub.renew(redis(), feed_ids, get_settings())


@app.task(ignore_result=True)
def poll(feed_ids: list[str]) -> None:
    new = pipeline.poll_feeds(redis(), feed_ids, get_settings())
    if new:
        fan_out.delay(new)


@app.task(ignore_result=True)
def fan_out(story_ids: list[str]) -> None:
    created = pipeline.fan_out(redis(), story_ids, get_settings())
    for batch in chunks(created, spread(len(created))):
        deliver.delay(batch)


@app.task(ignore_result=True)
def deliver(delivery_ids: list[str]) -> None:
    pipeline.deliver(redis(), delivery_ids, get_settings())
