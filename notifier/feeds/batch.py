"""Fetching a batch of feeds on the process's event loop, over kept-alive sessions.

One session per set of fetch limits lives on the loop of `notifier.core.loop`, so connections to
a feed host survive from one poll task to the next.
"""

from __future__ import annotations

from notifier.core import loop
from notifier.feeds.fetch import FetchError, FetchLimits, FetchRequest, FetchResult, fetch_many, make_session


async def _fetch(requests: list[FetchRequest], limits: FetchLimits):
    session = loop.kept(("fetch", limits), lambda: make_session(limits))
    return await fetch_many(requests, limits, session=session)


def fetch_batch(requests: list[FetchRequest], limits: FetchLimits) -> list[FetchResult | FetchError]:
    """Fetch a batch concurrently; one result or FetchError per request, in order."""
    if not requests:
        return []
    return loop.run(_fetch(requests, limits))
