"""Parts of delivery run in the benchmark's own process, without the tick or a worker: the
Apprise channel and `dispatch.send_deliveries` on one thread, the Redis round trips per alert, and
one story fanned out to many subscribers (match + ledger, then the deliver tasks enqueued on the
real broker; no worker runs, so nothing is sent). They tell where the service's time goes; the
service runs are the figures that count."""

from __future__ import annotations

import os
import time

from benchmarks.delivery_limits import STORY, Size, measured, repeated
from benchmarks.delivery_service import UNLIMITED, add_subscribers, publish
from benchmarks.delivery_sinks import Sinks
from notifier import pipeline
from notifier.alerts import dispatch
from notifier.alerts.channels.via_apprise import send_via_apprise
from notifier.alerts.render import render_for
from notifier.core.db import connect
from notifier.core.due import chunks
from notifier.models import Topic
from notifier.settings import Settings, get_settings
from notifier.stories import store


def parts_alone(sinks: Sinks, url: str, size: Size) -> dict[str, list[float]]:
    """On a database of their own (the service uses 0)."""
    r = connect(url.rsplit("/", 1)[0] + "/1")
    settings = Settings(redis_url=url, allow_private_hosts=True)
    store.add_topic(r, Topic("parts", "parts"))
    add_subscribers(r, "parts", [sinks.hook(i, rate=UNLIMITED) for i in range(size.subscribers)], "part")
    ids = pipeline.route_stories(r, [publish(r, "parts")], settings)
    story = {**STORY, "id": "p", "feed": "f"}

    def apprise_send(i: int) -> None:  # render and send as the service does for a non-pooled URL
        url = sinks.hook(i)
        send_via_apprise(url, render_for(url, story, [], settings), True)

    figures: dict[str, list[float]] = {"send_json": [], "dispatch_json": []}
    per_try = (len(ids) - 20) // size.tries
    for n in range(size.tries):
        figures["send_json"].append(measured(sinks, "http", lambda: repeated(apprise_send, size.slice)))
        mine = ids[n * per_try : (n + 1) * per_try]  # each try its own deliveries: a sent one is not resent
        figures["dispatch_json"].append(
            measured(sinks, "http", lambda m=mine: _dispatch(r, m, settings, size))
        )
    figures["redis_round_trips"] = [_round_trips_per_alert(r, ids[-20:], settings)]
    r.flushdb()
    return figures


def _dispatch(r, ids: list[str], settings: Settings, size: Size) -> int:
    done, deadline = 0, time.monotonic() + size.slice
    while time.monotonic() < deadline and done < len(ids):
        dispatch.send_deliveries(r, ids[done : done + 20], settings).wait()
        done += len(ids[done : done + 20])
    return done


def _round_trips_per_alert(r, ids: list[str], settings: Settings) -> float:
    """Redis round trips (a pipeline is one) per alert, counted in every thread (sends are
    recorded on the recording thread) by wrapping redis-py's one call that writes a command."""
    import redis.connection

    owner, calls = redis.connection.AbstractConnection, [0]
    original = owner.send_packed_command

    def counting(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    owner.send_packed_command = counting
    try:
        dispatch.send_deliveries(r, ids, settings).wait()
    finally:
        owner.send_packed_command = original
    return calls[0] / len(ids)


def fan_out_alone(sinks: Sinks, url: str, size: Size) -> dict:
    """One story to `fanout` subscribers: match + ledger in this process, then the deliver tasks
    enqueued on the real broker. No worker runs, so the queue is dropped afterwards unsent."""
    r = connect(url)
    r.flushdb()
    settings = Settings(redis_url=url, allow_private_hosts=True)
    store.add_topic(r, Topic("fanout", "zzfanout"))
    add_subscribers(r, "fanout", [sinks.hook(i) for i in range(size.fanout)], "fan-")
    story_id, deliver = publish(r, "zzfanout"), _deliver_task(url)
    started = time.perf_counter()
    created = pipeline.route_stories(r, [story_id], settings)
    matched = time.perf_counter()
    batches = chunks(created, _deliver_batch(len(created)))
    for batch in batches:
        deliver.delay(batch)
    enqueued = time.perf_counter()
    if len(created) != size.fanout:
        raise RuntimeError(f"{size.fanout} subscribers matched, {len(created)} deliveries created")
    r.flushdb()
    return {"fan_out_s": matched - started, "enqueue_s": enqueued - matched, "total_s": enqueued - started}


def _deliver_task(url: str):
    """workers.tasks.deliver, with the Celery app pointed at our Redis (it reads the settings once)."""
    saved, os.environ["REDIS_URL"] = os.environ.get("REDIS_URL"), url
    get_settings.cache_clear()
    try:
        from workers.tasks import deliver
    finally:
        if saved is None:
            del os.environ["REDIS_URL"]
        else:
            os.environ["REDIS_URL"] = saved
        get_settings.cache_clear()
    if deliver.app.conf.broker_url != url:  # imported earlier in this process, for another Redis
        raise RuntimeError(f"the Celery app talks to {deliver.app.conf.broker_url}, not {url}")
    return deliver


def _deliver_batch(count: int) -> int:
    from workers.tasks import spread

    return spread(count)  # the batch size the fan_out task uses
