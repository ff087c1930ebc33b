"""What the operator's tools see: /readyz, /metrics parsed, and a small alerting set-up in Redis.

Used by the tests of metrics, readiness, RabbitMQ as the broker and the two-node scale-out.
"""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from notifier.models import Subscriber, Topic
from notifier.stories import store


def readiness(port: int) -> tuple[int, dict] | None:
    """(status, body) of /readyz, or None while nothing answers."""
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
    except httpx.HTTPError:
        return None
    return response.status_code, response.json()


def ready(port: int) -> dict | None:
    answer = readiness(port)
    return answer[1] if answer and answer[0] == 200 else None


def scrape(port: int) -> dict[tuple, float]:
    """/metrics as {(sample name, (label, value), ...): value}."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, *sorted(sample.labels.items()))] = sample.value
    return samples


def watch(r, feed_urls: list[str], interval: int, expr: str, notify: list[str]) -> list[str]:
    """Feeds (forced interval), one topic `news` and one subscriber `reader`; the feed ids."""
    ids = [store.add_feed(r, url, url, interval, forced=True).id for url in feed_urls]
    store.add_topic(r, Topic("news", expr))
    store.add_subscriber(r, Subscriber(name="reader", urls=tuple(notify), topics=("news",)))
    return ids


def baselines_done(r, feed_ids: list[str]) -> bool:
    return all(store.get_feed(r, feed_id).baseline_done for feed_id in feed_ids)
