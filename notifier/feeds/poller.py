"""Polling on the process's event loop: each feed is fetched on its own and taken in the moment its
fetch ends, not when a batch ends.

A poll task hands its feeds over (`hand_over`) and returns at once, so no task and no pool process
waits on the network. On the loop each feed waits for a slot of its host (`per_host`) and one of the
process's (`concurrency`, given back by a fetch its host holds up), is fetched, and its result goes
to the recording thread (`core.drain`) with whatever else finished meanwhile. A slow or hanging host
holds only its own feeds and its share of connections. The session lives as long as the process,
so connections to a feed host are reused from one poll to the next.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field

from notifier.core import loop
from notifier.core.drain import Countdown, Drain
from notifier.core.lanes import Lanes
from notifier.feeds.fetch import FetchError, FetchLimits, FetchResult, fetch_one, host_of, make_session
from notifier.models import Feed

RESULTS = Drain("notifier-poll-results")  # every result, taken in as it comes
PARSES = Drain("notifier-parse", most=1)  # changed bodies: parsed one at a time, beside RESULTS


@dataclass(frozen=True)
class Polled:
    """One feed's fetch, ended: a FetchResult or the FetchError that ended it."""

    feed: Feed
    result: FetchResult | FetchError
    countdown: Countdown
    # the context of the task that handed the feed over: its record is logged as that task's
    context: contextvars.Context = field(default_factory=contextvars.copy_context)

    def taken_in(self) -> None:
        self.countdown.one_done()


class _Fetcher:
    """What one set of limits keeps on the loop: the session, the lanes, the feeds in flight."""

    def __init__(self, limits: FetchLimits) -> None:
        self.limits, self.session = limits, make_session(limits)
        self.lanes = Lanes(limits.per_host, limits.concurrency)
        self.busy: set[str] = set()
        self.tasks: set[asyncio.Task] = set()  # the loop keeps only weak references to tasks

    @property
    def closed(self) -> bool:
        return self.session.closed

    async def close(self) -> None:
        await self.session.close()


def hand_over(feeds: list[Feed], limits: FetchLimits, take_in: Callable[[list[Polled]], None]) -> Countdown:
    """Start fetching `feeds` on this process's loop and return at once.

    `take_in(polled)` runs on the recording thread with each result as soon as its fetch ends
    (and with any others that ended meanwhile); it calls `taken_in()` on each. The countdown says
    when all are in. A feed this process is fetching already is not fetched twice."""
    countdown = Countdown(len(feeds))
    if feeds:
        loop.call_soon(_start, feeds, limits, take_in, countdown)
    return countdown


def in_flight(timeout: float = 2.0) -> list[str]:
    """The feeds this process has been handed and not yet fetched; [] if it never polled."""
    if not loop.running_here():
        return []

    async def busy() -> list[str]:
        return [feed_id for fetcher in loop.all_kept("fetch") for feed_id in fetcher.busy]

    return loop.submit(busy()).result(timeout)


def _start(feeds: list[Feed], limits: FetchLimits, take_in, countdown: Countdown) -> None:
    fetcher = loop.kept(("fetch", limits), lambda: _Fetcher(limits))
    for feed in feeds:
        if feed.id in fetcher.busy:
            countdown.one_done()
            continue
        fetcher.busy.add(feed.id)
        task = asyncio.ensure_future(_poll(fetcher, feed, take_in, countdown))
        fetcher.tasks.add(task)
        task.add_done_callback(fetcher.tasks.discard)


async def _poll(fetcher: _Fetcher, feed: Feed, take_in, countdown: Countdown) -> None:
    limits = fetcher.limits

    def fetch():
        return fetch_one(
            fetcher.session, feed.url, etag=feed.etag, last_modified=feed.last_modified, limits=limits
        )

    try:
        result = await fetcher.lanes.run(host_of(feed.url), fetch)
    except FetchError as exc:
        result = exc
    except Exception as exc:  # noqa: BLE001 - recorded as this feed's error, never lost
        result = FetchError("internal", f"internal: {type(exc).__name__}")
    finally:
        fetcher.busy.discard(feed.id)
    RESULTS.put(take_in, Polled(feed, result, countdown))
