"""From a new story to ledger rows: which topics it matches, who follows them, and for each
notification URL whether the alert goes now or is held (quiet hours, digests)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache

import redis

from notifier.alerts import ledger, same_event
from notifier.models import Subscriber, Topic
from notifier.settings import Settings
from notifier.stories import breaking, claim, events, match, quiet, store

CREATE_CHUNK = 2000  # rows per Lua call: big enough to be cheap, small enough not to stall Redis


@lru_cache(maxsize=4096)
def compiled(expr: str) -> match.Expr:
    return match.compile_expression(expr)


def matching_topics(topics: list[Topic], story: dict) -> dict[str, list[str]]:
    """Topic name -> the terms that made it match."""
    index = match.index_text(match.story_text(story["title"], story.get("summary") or ""))
    found = {}
    for topic in topics:
        expr = compiled(topic.expr)
        if match.matches(expr, index):
            found[topic.name] = match.matched_terms(expr, index)
    return found


def release_for(sub: Subscriber, urgent_topics: set[str], now: float) -> float | None:
    if not sub.quiet and not sub.digest:
        return None
    urgent = bool(urgent_topics.intersection(sub.topics))
    return quiet.release_time(
        now,
        quiet=sub.quiet,
        tz=sub.tz,
        digest=sub.digest,
        digest_at=sub.digest_at,
        urgent=urgent,
        urgent_passes=sub.urgent_passes,
    )


def rows_for(
    r: redis.Redis, story_id: str, targets: dict[str, str], urgent_topics: set[str], now: float
) -> tuple[list[tuple], dict[str, str]]:
    """One ledger row per (subscriber, URL) of one step of the topic indexes, and each row's
    delivery id by (subscriber NUL url hash): hashed here, once, for the claim and the ledger."""
    holders = sorted({field.split("\0")[0] for field, entry in targets.items() if entry.endswith("\theld")})
    held = {sub.name: release_for(sub, urgent_topics, now) for sub in store.get_subscribers(r, holders)}
    rows, ids = [], {}
    for field, entry in targets.items():
        name, uhash = field.split("\0")
        rows.append((story_id, name, uhash, entry.partition("\t")[0], held.get(name)))
        ids[field] = ledger.delivery_id(story_id, name, uhash)
    return rows, ids


def create_deliveries(
    r: redis.Redis,
    story_ids: list[str],
    settings: Settings,
    on_created: Callable[[list[str]], None] | None = None,
) -> list[str]:
    """Match new stories to subscribers and record one delivery per URL; return those due now.

    In steps of CREATE_CHUNK targets, each admitted, ledgered and given to `on_created` (the task
    enqueues it) before the next is read: the first alerts leave within the first step, and memory
    holds one step, not a million rows. With `on_created` nothing is returned. A run cut off between
    steps and run again writes every row once: the claim and the ledger skip what exists."""
    created: list[str] = []
    emit = on_created or created.extend
    topics = store.list_topics(r)
    for story_id in story_ids:
        story = claim.load_story(r, story_id)
        if story is None:
            r.zrem("stories:pending", story_id)
            continue
        matched = matching_topics(topics, story)
        event, ready, waiting = same_event.ready_topics(r, story, matched, topics, settings.cluster_window)
        urgent = breaking.urgent_topics(event, [t for t in topics if t.name in ready])
        tally: dict[str, int] = {}
        for targets in store.targets_in_steps(r, sorted(ready), CREATE_CHUNK):
            rows, ids = rows_for(r, story_id, targets, set(urgent), time.time())
            rows = same_event.admit(r, story, event, rows, settings.cluster_window, urgent, ids, tally)
            new = ledger.create(
                r,
                rows,
                ttl=settings.story_ttl,
                lease_until=time.time() + settings.lease_seconds,
                ids=[ids[f"{row[1]}\0{row[2]}"] for row in rows],
            )
            if new:
                emit(new)
        record_matches(r, story, matched, urgent, settings.story_ttl)
        events.fanned_out(r, event, story_id, bool(waiting), settings.cluster_window)
    return created


def record_matches(
    r: redis.Redis, story: dict, topics: dict[str, list[str]], urgent: dict[str, str], ttl: int
) -> None:
    """Why the story matched and which topics called it urgent (for `story show` and the channel's
    priority), and which topics each feed feeds (for notices)."""
    story_id = story["id"]
    pipe = r.pipeline(transaction=True)
    if topics:
        pipe.sadd(f"feed:{story['feed']}:topics", *topics)
        pipe.expire(f"feed:{story['feed']}:topics", ttl)
        pipe.hset(f"story:{story_id}:matches", mapping={t: ", ".join(terms) for t, terms in topics.items()})
        pipe.expire(f"story:{story_id}:matches", ttl)
    if urgent:
        pipe.hset(f"story:{story_id}:urgent", mapping=urgent)
        pipe.expire(f"story:{story_id}:urgent", ttl)
    pipe.execute()
