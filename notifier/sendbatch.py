"""Render and send a batch of deliveries that the ledger has given us to send.

A handful of Redis round trips per batch (stories, matched topics, unsubscribe links), not per
alert; json:// webhooks and mailto:// e-mail go through the pooled fast path, concurrently, and
every other service through Apprise, one call per URL. Deciding what a failure means is the
caller's business: this returns, per delivery id, None or the DeliveryError.
"""

from __future__ import annotations

import redis

from notifier import dedup, httpwatch, ratelimit, store
from notifier.deliver import DeliveryError, send
from notifier.models import Delivery
from notifier.render import Rendered, links_many, render_for
from notifier.settings import Settings

try:  # the pooled path for the high-volume channels; Apprise handles everything without it
    from notifier import fastpath
except ImportError:  # pragma: no cover - only while it is being built
    fastpath = None


def for_apprise(url: str) -> str:
    return ratelimit.split_rate_override(url)[0]  # our `rate=` is not Apprise's business


def render_batch(
    r: redis.Redis, records: list[Delivery], urls: dict[str, str], settings: Settings, subscribers: set[str]
) -> tuple[dict[str, Rendered], dict[str, dict]]:
    stories = dedup.load_stories(r, [rec.story for rec in records])
    pipe = r.pipeline(transaction=False)
    story_ids = sorted(stories)
    for sid in story_ids:
        pipe.hkeys(f"story:{sid}:matches")
    matched = dict(zip(story_ids, map(set, pipe.execute()), strict=True))
    topics = store.list_topics(r)
    pairs = [(rec.subscriber, for_apprise(urls[rec.id])) for rec in records if rec.subscriber in subscribers]
    links = links_many(r, settings, pairs)
    rendered = {}
    for rec in records:
        story, clean = stories.get(rec.story), for_apprise(urls[rec.id])
        if story is not None:
            chosen = [t for t in topics if t.name in matched.get(rec.story, ())]
            rendered[rec.id] = render_for(clean, story, chosen, settings, links.get((rec.subscriber, clean)))
    return rendered, stories


def send_rendered(
    r: redis.Redis, records: list[Delivery], urls: dict[str, str], settings: Settings, subscribers: set[str]
) -> dict[str, DeliveryError | None]:
    rendered, stories = render_batch(r, records, urls, settings, subscribers)
    results: dict[str, DeliveryError | None] = {}
    fast, slow = [], []
    for rec in records:
        if rec.id not in rendered:
            results[rec.id] = DeliveryError("the story is gone", permanent=True)
        elif fastpath is not None and fastpath.supports(for_apprise(urls[rec.id])):
            fast.append(rec)
        else:
            slow.append(rec)
    if fast:
        jobs = [job_for(rendered[rec.id], for_apprise(urls[rec.id])) for rec in fast]
        errors = fastpath.send_batch(jobs, allow_private=settings.allow_private_hosts)
        results.update(zip([rec.id for rec in fast], errors, strict=True))
    told_to_wait: dict[str, float] = {}  # destination -> Retry-After seconds, from an earlier send
    for rec in slow:
        url = for_apprise(urls[rec.id])
        destination = ratelimit.destination_keys(urls[rec.id])[0][0]
        if destination in told_to_wait:
            results[rec.id] = deferred(told_to_wait[destination])
            continue
        results[rec.id] = through_apprise(url, stories[rec.story], rendered[rec.id], settings)
        if results[rec.id] is not None and getattr(results[rec.id], "retry_after", None):
            told_to_wait[destination] = results[rec.id].retry_after
    return results


def deferred(seconds: float) -> DeliveryError:
    """Not tried: the provider told an earlier send of this batch to wait. Not a failed attempt."""
    error = DeliveryError(f"provider asked to wait {seconds:.0f} s")
    error.retry_after, error.deferred = seconds, True
    return error


def job_for(rendered: Rendered, url: str):
    # e-mail carries its unsubscribe link in headers: the subscriber's own URL keeps the pool's
    # parse cache warm, where url_for_apprise (a different header per subscriber) never would
    target = url if rendered.channel == "email" else rendered.url_for_apprise
    return fastpath.Job(
        target, rendered.title, rendered.body, rendered.body_format, dict(rendered.headers or {})
    )


def through_apprise(url: str, story: dict, rendered: Rendered, settings: Settings) -> DeliveryError | None:
    """One Apprise send, its error (if any) completed with what the HTTP answers said."""
    return watched(lambda: send(url, story, settings.allow_private_hosts, rendered))


def watched(send_it) -> DeliveryError | None:
    """Run an Apprise send, watching the HTTP answers Apprise does not pass on (429, 404/410/401)."""
    with httpwatch.watch() as seen:
        try:
            send_it()
        except DeliveryError as exc:
            exc.permanent = exc.permanent or seen.permanent
            exc.retry_after = seen.retry_after
            return exc
    return None
