"""Where a story's time went, read back from what the run left behind: the feed server's request
log (when each feed was fetched), the ledger (when each delivery was created) and the sink."""

from __future__ import annotations

import itertools
import json
import statistics

import httpx

from tests.feedserver import FeedServer


def delivery_times(r) -> dict[str, float]:
    """When each story's delivery was created (fan-out done), by the story's title."""
    created = {}
    for key in r.scan_iter("delivery:*", count=1000):
        story, at = r.hmget(key, "story", "created")
        payload = r.get(f"story:{story}")
        if payload and at:
            created[json.loads(payload)["title"]] = float(at)
    return created


def first_fetches(server: FeedServer, polled: list) -> dict[str, float]:
    """The first request for each story's feed after it was published: the poll that found it."""
    by_path: dict[str, list[float]] = {}
    for request in server.requests:
        by_path.setdefault(request.path, []).append(request.at)
    return {p.title: next(at for at in by_path[p.path] if at >= p.at) for p in polled}


def poll_gaps(server: FeedServer, paths: set[str], since: float) -> list[float]:
    """Seconds between two polls of a feed, from `since` on (the cadence once publishing began)."""
    times: dict[str, list[float]] = {}
    for request in server.requests:
        if request.path in paths and request.at >= since:
            times.setdefault(request.path, []).append(request.at)
    return [b - a for ats in times.values() for a, b in itertools.pairwise(ats)]


def pct(values: list[float], q: int) -> float:
    return (
        statistics.median(values)
        if q == 50
        else statistics.quantiles(values, n=100, method="inclusive")[q - 1]
    )


def summary(stages: dict[str, list[float]]) -> str:
    return ", ".join(f"{name} {pct(v, 50):.2f}/{pct(v, 99):.2f} s" for name, v in stages.items())


def poll_errors(api: str) -> dict[str, float]:
    """Failed polls by kind, as the service counts them (its /metrics): each one backs its feed
    off, which shows as a long gap between two polls."""
    text = httpx.get(f"{api}/metrics", timeout=10).text
    errors = {}
    for line in text.splitlines():
        if line.startswith("notifier_poll_errors_total{"):
            labels, _, value = line.rpartition(" ")
            errors[labels.partition('kind="')[2].partition('"')[0]] = float(value)
    return errors
