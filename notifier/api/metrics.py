"""GET /metrics: Prometheus text. The counters every process summed in Redis (notifier.core.metrics)
and gauges read at scrape time from Redis and the broker.

Every API process answers with the same service-wide numbers: scrape one of them (several
replicas behind one address are fine; the numbers do not depend on which one answers).
"""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from notifier.api.health import probe_client
from notifier.core import alive, broker, metrics
from notifier.core.db import broker_url, redis_url
from notifier.settings import get_settings

OVERDUE_AFTER = 10.0  # seconds past its poll time: the contract allows a feed's interval + 10 s

router = APIRouter()


@router.get("/metrics")
def scrape() -> Response:
    metrics.flush()  # this process's own counts (WebSub pushes) before we read everyone's
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector())
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class ServiceCollector:
    """Builds every family at each scrape; nothing is kept in this process."""

    def collect(self):
        settings = get_settings()
        r = probe_client(redis_url(settings, start_embedded=False))
        stored = _read_stored(r)
        for metric in metrics.ALL:
            yield _family(metric, stored.get(metric.key, {}))
        yield from _gauges(r, time.time())
        yield _queue_depths(broker_url(settings))


def _read_stored(r) -> dict[str, dict[str, str]]:
    pipe = r.pipeline(transaction=False)
    for metric in metrics.ALL:
        pipe.hgetall(metric.key)
    return dict(zip([m.key for m in metrics.ALL], pipe.execute(), strict=True))


def _family(metric, fields: dict[str, str]):
    if metric.kind == "histogram":
        return _histogram(metric, fields)
    family = CounterMetricFamily(metric.name, metric.doc, labels=metric.labels)
    values = {tuple(v) for v in metric.values} | {tuple(k.split(metrics.SEP)) for k in fields}
    for labels in sorted(values):
        family.add_metric(list(labels), float(fields.get(metrics.SEP.join(labels), 0)))
    return family


def _histogram(metric, fields: dict[str, str]):
    family = HistogramMetricFamily(metric.name, metric.doc)
    running, buckets = 0.0, []
    for bound in [*(repr(b) for b in metric.buckets), "+Inf"]:
        running += float(fields.get(f"le={bound}", 0))
        buckets.append((bound, running))
    family.add_metric([], buckets, sum_value=float(fields.get("sum", 0)))
    return family


def _gauges(r, now: float):
    pipe = r.pipeline(transaction=False)
    pipe.zcount("feeds:due", "-inf", now)
    pipe.zcount("feeds:due", "-inf", now - OVERDUE_AFTER)
    pipe.zcard("stories:pending")
    pipe.zcard("deliveries:due")
    pipe.get("heartbeat:tick")
    due, overdue, pending, waiting, tick = pipe.execute()
    yield GaugeMetricFamily("notifier_feeds_due", "Feeds whose poll time has come, not yet taken.", due)
    yield GaugeMetricFamily(
        "notifier_feeds_overdue", f"Feeds due for more than {OVERDUE_AFTER:.0f} s, not yet taken.", overdue
    )
    yield GaugeMetricFamily("notifier_stories_pending", "New stories waiting to be matched.", pending)
    yield GaugeMetricFamily(
        "notifier_deliveries_waiting", "Alerts waiting: due, retrying, held or being sent.", waiting
    )
    age = now - float(tick) if tick else float("nan")
    yield GaugeMetricFamily("notifier_last_tick_age_seconds", "Seconds since the last tick ran.", age)
    workers = GaugeMetricFamily(
        "notifier_workers_alive", "Workers heard from lately, per queue.", labels=["queue"]
    )
    for queue, count in alive.counts(r, broker.QUEUES, now).items():
        workers.add_metric([queue], count)
    yield workers


def _queue_depths(url: str):
    family = GaugeMetricFamily(
        "notifier_queue_depth", "Messages waiting in the broker, per queue.", labels=["queue"]
    )
    try:
        found = broker.depths(url)
    except Exception:  # noqa: BLE001 - no broker: no depths; /readyz says why
        return family
    for queue, count in found.items():
        family.add_metric([queue], count)
    return family
