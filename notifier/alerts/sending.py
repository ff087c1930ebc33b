"""Render and send a batch of deliveries that the ledger has given us to send.

A handful of Redis round trips per batch (stories, matched topics, unsubscribe links), not per
alert; json:// webhooks and mailto:// e-mail go through the pooled fast path, concurrently, and
every other service through Apprise, one call per URL. Deciding what a failure means is the
caller's business: this returns, per delivery id, None or the DeliveryError.
"""

from __future__ import annotations

import redis

from notifier.alerts import pacing
from notifier.alerts.channels import httpwatch, pooled, webpush
from notifier.alerts.channels.base import DeliveryError
from notifier.alerts.channels.via_apprise import send_via_apprise
from notifier.alerts.identity import identified
from notifier.alerts.links import links_many
from notifier.alerts.render import Rendered, render_for
from notifier.core import metrics
from notifier.models import Delivery
from notifier.settings import Settings
from notifier.stories import claim, store


def for_apprise(url: str) -> str:
    return pacing.split_rate_override(url)[0]  # our `rate=` is not Apprise's business


def render_batch(
    r: redis.Redis, records: list[Delivery], urls: dict[str, str], settings: Settings, subscribers: set[str]
) -> tuple[dict[str, Rendered | DeliveryError], dict[str, dict]]:
    stories = claim.load_stories(r, [rec.story for rec in records])
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
            try:
                one = render_for(clean, story, chosen, settings, links.get((rec.subscriber, clean)))
                rendered[rec.id] = identified(one, clean, rec.id)
            except Exception as exc:  # noqa: BLE001 - one alert that cannot be rendered must not sink its batch
                reason = f"cannot render the alert ({type(exc).__name__}: {exc})"
                rendered[rec.id] = DeliveryError(reason[:300])
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
        elif isinstance(rendered[rec.id], DeliveryError):  # retried, bounded by the attempts like any failure
            results[rec.id] = rendered[rec.id]
        elif pooled.supports(for_apprise(urls[rec.id])):
            fast.append(rec)
        else:
            slow.append(rec)
    if fast:
        jobs = [pooled.Job.for_rendered(rendered[rec.id], for_apprise(urls[rec.id])) for rec in fast]
        errors = pooled.send_batch(jobs, allow_private=settings.allow_private_hosts)
        results.update(zip([rec.id for rec in fast], errors, strict=True))
    told_to_wait: dict[str, float] = {}  # destination -> Retry-After seconds, from an earlier send
    for rec in slow:
        url = for_apprise(urls[rec.id])
        destination = pacing.destination_keys(urls[rec.id])[0][0]
        if destination in told_to_wait:
            results[rec.id] = deferred(told_to_wait[destination])
            continue
        results[rec.id] = send_one(url, rendered[rec.id], settings)
        if results[rec.id] is not None and results[rec.id].retry_after:
            told_to_wait[destination] = results[rec.id].retry_after
    metrics.sent_after_publication(records, stories, results)
    return results


def deferred(seconds: float) -> DeliveryError:
    """Not tried: the provider told an earlier send of this batch to wait. Not a failed attempt."""
    error = DeliveryError(f"provider asked to wait {seconds:.0f} s", retry_after=seconds)
    error.deferred = True
    return error


def send_one(url: str, rendered: Rendered, settings: Settings) -> DeliveryError | None:
    """One message to one URL, off the pooled path: Web Push ourselves, every other service via Apprise."""
    if webpush.supports(url):
        return webpush.send(url, rendered.body, settings)
    return through_apprise(url, rendered, settings)


def through_apprise(url: str, rendered: Rendered, settings: Settings) -> DeliveryError | None:
    """One Apprise send, its error (if any) completed with what the HTTP answers said."""
    return watched(lambda: send_via_apprise(url, rendered, settings.allow_private_hosts))


def send_digest(url: str, stories: list[dict], settings: Settings) -> DeliveryError | None:
    """Several held alerts of one URL as one message, through Apprise."""
    clean = for_apprise(url)
    return send_one(clean, render_for(clean, digest_story(stories), [], settings), settings)


def digest_story(stories: list[dict]) -> dict:
    """Several held alerts as one story: a count for a title, a line per story."""
    lines = [f"• {s['title']}" + (f" — {s['link']}" if s.get("link") else "") for s in stories]
    return {
        "id": "digest",
        "title": f"{len(stories)} new stories for you",
        "link": None,
        "summary": "\n".join(lines),
        "published": None,
        "digest": stories,
    }


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
