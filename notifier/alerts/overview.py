"""What the operator looks at: the service's status, the delivery ledger, one story in detail,
and retrying an alert that gave up. `notifier status|deliveries|story show`, the API and the
dashboard all read through these."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import redis

from notifier.alerts import explain, ledger
from notifier.core import broker
from notifier.core.refusals import Refused
from notifier.models import Delivery
from notifier.stories import claim, cluster, events, store
from notifier.stories.views import feed_json, story_json

GAVE_UP = ("failed", "dropped")
WAITING = ("pending", "sending", "retrying", "held")  # not final yet: what `status` counts as waiting
STATES = (*WAITING, "sent", *GAVE_UP)
RECENT = 1000  # rows `deliveries` lists when not told how many, as it always has


def gather_status(r: redis.Redis, broker_url: str) -> dict:
    """Feeds and their last poll, queue depths, delivery counts, what waits, failing URLs.

    Queue depths are asked of the broker itself (Redis lists or RabbitMQ queues alike); a broker
    that does not answer shows no depths rather than failing the whole status."""
    done = ledger.summary(r)
    return {
        "feeds": [feed_json(f) for f in store.list_feeds(r)],
        "queues": _queue_depths(broker_url),
        "deliveries": done["counts"],
        "deliveries_waiting": done["waiting"],
        "stories_waiting": r.zcard("stories:pending"),
        "failing_urls": done["failing_urls"],
    }


def _queue_depths(broker_url: str) -> dict[str, int | None]:
    try:
        return broker.depths(broker_url)
    except Exception:  # noqa: BLE001 - status must still show feeds and deliveries without a broker
        return dict.fromkeys(broker.QUEUES)


def deliveries(
    r: redis.Redis,
    failed: bool = False,
    story: str | None = None,
    subscriber: str | None = None,
    *,
    limit: int | None = None,
    states: tuple[str, ...] = (),
) -> list[Delivery]:
    """The newest deliveries that pass every filter, newest first, at most `limit` (RECENT if not
    given); or one story's, all of them unless `limit` says otherwise. `failed`: those that gave
    up; `states`: any of STATES or "waiting". The ledger lists its newest alerts (KEPT_RECENT)
    and each story's own, so a filter looks that far back, not only among the newest `limit`."""
    keep = _keeps(failed, subscriber, states)
    if story:
        rows = [d for d in ledger.of_story(r, story) if keep(d)]
        return rows[:limit] if limit else rows
    return _newest(r, keep, limit or RECENT)


def _keeps(failed: bool, subscriber: str | None, states: tuple[str, ...]) -> Callable[[Delivery], bool]:
    wanted = set()
    for state in states:
        if state not in (*STATES, "waiting"):
            raise Refused(f"no delivery state {state!r}; one of {', '.join(STATES)} or waiting")
        wanted |= set(WAITING if state == "waiting" else [state])
    return lambda d: (
        (not failed or d.state in GAVE_UP)
        and (not wanted or d.state in wanted)
        and (not subscriber or d.subscriber == subscriber)
    )


def _newest(r: redis.Redis, keep: Callable[[Delivery], bool], limit: int) -> list[Delivery]:
    """Down the ledger's recent list, a slice at a time, until `limit` rows pass or it ends."""
    found, start, step = [], 0, min(max(limit, RECENT), ledger.KEPT_RECENT)
    while len(found) < limit:
        ids = r.lrange("deliveries:recent", start, start + step - 1)
        if not ids:
            break
        found += [d for d in ledger.get_many(r, ids) if keep(d)]
        start += len(ids)
    return found[:limit]


def why_none(r: redis.Redis, story: str | None, subscriber: str | None) -> None:
    """An empty listing that names a story or subscriber we never heard of is a mistake, not an
    answer: say so. A removed subscriber's past deliveries still list (the ledger keeps them)."""
    if story and not r.exists(f"story:{story}", f"story:{story}:deliveries"):
        raise store.NotFound(f"no story with id {story}")
    if subscriber and store.get_subscriber(r, subscriber, missing_ok=True) is None:
        raise store.NotFound(f"no subscriber named {subscriber!r}, and no delivery to one")


def retry_delivery(r: redis.Redis, delivery_id: str) -> str:
    """Send a failed or dropped delivery again on the next tick; return the state it had."""
    before = ledger.retry_by_hand(r, delivery_id)
    if before is None:
        raise store.NotFound(f"no delivery with id {delivery_id}")
    if before not in GAVE_UP:
        raise Refused(f"delivery {delivery_id} is {before}; only a failed or dropped one can be retried")
    return before


def story_detail(r: redis.Redis, story_id: str) -> dict:
    """A story, the feeds it came from, the topics it matched and why, and its deliveries."""
    record = claim.load_story(r, story_id)
    if record is None:
        raise store.NotFound(f"no story with id {story_id}")
    view = cluster.of_story(r, story_id)
    size = {"cluster": view.id, "cluster_size": view.size} if view else {}
    [why] = explain.stories_explained(r, [record | size])
    return {
        **story_json(why),
        "sources": sorted(r.smembers(f"story:{story_id}:sources")),
        "matched": r.hgetall(f"story:{story_id}:matches"),
        "event": event_json(view, story_id) if view else None,
        "why_silent": events.notes(r, story_id),  # same event as an earlier alert, updates, waiting
        "deliveries": explain.deliveries_explained(r, ledger.of_story(r, story_id)),
    }


def event_json(view: cluster.View, story_id: str) -> dict:
    """The story's same-event cluster: who carries it, how fast, and why this story joined."""
    me = next((m for m in view.members if m.id == story_id), None)
    return {
        "start": iso_ts(view.start),
        "baseline": view.baseline,
        "outlets": view.outlets,
        "outlets_within_10_min": view.within_10,
        "outlets_within_30_min": view.within_30,
        "members": [
            {"id": m.id, "feed": m.feed, "at": iso_ts(m.t), "baseline": m.baseline} for m in view.members
        ],
        "joined": {"story": me.joined, "score": round(me.score, 3), "terms": list(me.why)}
        if me and me.joined
        else None,
    }


def iso_ts(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
