"""Render and send a batch of deliveries that the ledger has given us to send.

A handful of Redis round trips per batch (stories, matched topics, unsubscribe links), not per
alert; json:// webhooks and mailto:// e-mail go through the pooled fast path, and every other
service through Apprise, one call per URL on its destination's own lane thread. Sends start and
the call returns; each result is handed on as its own send ends, so a destination that hangs holds
only its own deliveries. Deciding what a failure means is the caller's business.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from urllib.parse import urlsplit

import redis

from notifier.alerts import follow_ups, pacing
from notifier.alerts.channels import httpwatch, pooled, smtpwatch, webpush
from notifier.alerts.channels.base import DeliveryError
from notifier.alerts.channels.via_apprise import send_via_apprise
from notifier.alerts.identity import apprise_url, identified
from notifier.alerts.links import links_many
from notifier.alerts.render import Rendered, render_for, render_shared
from notifier.core import metrics
from notifier.core.drain import Countdown
from notifier.core.lanes import SerialLanes
from notifier.models import Delivery
from notifier.settings import Settings
from notifier.stories import claim, events, store

APPRISE_LANES = SerialLanes("notifier-apprise")  # a destination's Apprise sends in order, on its own thread
GROUPED = {"ntfy", "ntfys", "json", "jsons", "webpush", "webpushs"}  # their alerts name the event
_told_to_wait: dict[str, float] = {}  # destination -> monotonic time its provider asked us to wait until


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
        pipe.hkeys(f"story:{sid}:urgent")  # topics that called this story urgent when it was fanned out
    found = pipe.execute()
    matched = dict(zip(story_ids, map(set, found[::2]), strict=True))
    urgent = dict(zip(story_ids, map(set, found[1::2]), strict=True))
    topics = store.list_topics(r)
    pairs = [(rec.subscriber, for_apprise(urls[rec.id])) for rec in records if rec.subscriber in subscribers]
    links = links_many(r, settings, pairs)
    rendered, shared = {}, {}  # shared: one rendering per story and channel, links filled in after
    parents = events.parents_of(r, [(rec.story, rec.id) for rec in records])  # threads of updates
    updates = follow_ups.follow_ups(r, parents)
    grouped = [rec.story for rec in records if urlsplit(urls[rec.id]).scheme.lower() in GROUPED]
    event_of = follow_ups.events_of(r, grouped)
    for rec in records:
        story, clean = stories.get(rec.story), for_apprise(urls[rec.id])
        if story is not None:
            chosen = [t for t in topics if t.name in matched.get(rec.story, ())]
            chosen = [replace(t, urgent=True) if t.name in urgent[rec.story] else t for t in chosen]
            story = follow_ups.with_context(story, updates.get(rec.id), event_of.get(rec.story))
            link = links.get((rec.subscriber, clean))
            try:
                one = render_shared(shared, clean, story, chosen, settings, link)
                rendered[rec.id] = identified(one, clean, rec.id, parents.get(rec.id))
            except Exception as exc:  # noqa: BLE001 - one alert that cannot be rendered must not sink its batch
                reason = f"cannot render the alert ({type(exc).__name__}: {exc})"
                rendered[rec.id] = DeliveryError(reason[:300])
    return rendered, stories


def start_sends(
    r: redis.Redis,
    records: list[Delivery],
    urls: dict[str, str],
    settings: Settings,
    subscribers: set[str],
    on_each: Callable[[Delivery, DeliveryError | None], None],
) -> None:
    """Render a batch and start every send; return at once. `on_each(record, None or the error)`
    runs as each send ends, on the thread that ended it: a slow destination holds only its own."""
    rendered, stories = render_batch(r, records, urls, settings, subscribers)
    told = on_each

    def on_each(rec: Delivery, error: DeliveryError | None) -> None:
        metrics.sent_after_publication([rec], stories, {rec.id: error})
        told(rec, error)

    fast, slow = [], []
    for rec in records:
        if rec.id not in rendered:
            on_each(rec, DeliveryError("the story is gone", permanent=True))
        elif isinstance(rendered[rec.id], DeliveryError):  # retried, bounded by the attempts like any failure
            on_each(rec, rendered[rec.id])
        elif pooled.supports(for_apprise(urls[rec.id])):
            fast.append(rec)
        else:
            slow.append(rec)
    if fast:
        jobs = [pooled.Job.for_rendered(rendered[rec.id], for_apprise(urls[rec.id])) for rec in fast]
        pooled.submit(
            jobs, lambda i, error: on_each(fast[i], error), allow_private=settings.allow_private_hosts
        )
    for rec in slow:
        destination = pacing.destination_keys(urls[rec.id])[0][0]
        args = (destination, for_apprise(urls[rec.id]), rendered[rec.id], settings)
        sent = APPRISE_LANES.submit(destination, through_lane, *args)
        sent.add_done_callback(lambda done, rec=rec: on_each(rec, _outcome(done)))


def send_rendered(
    r: redis.Redis, records: list[Delivery], urls: dict[str, str], settings: Settings, subscribers: set[str]
) -> dict[str, DeliveryError | None]:
    """`start_sends`, waiting for every result: delivery id -> None or the DeliveryError."""
    results: dict[str, DeliveryError | None] = {}
    countdown = Countdown(len(records))

    def done(rec: Delivery, error: DeliveryError | None) -> None:
        results[rec.id] = error
        countdown.one_done()

    start_sends(r, records, urls, settings, subscribers, done)
    countdown.wait()
    return results


def stalled(url: str, settings: Settings, seconds: float) -> bool:
    """Sends to this URL's destination wait in this process and none has ended for `seconds`:
    it hangs, and more sends would only queue behind the ones it holds."""
    clean = for_apprise(url)
    if pooled.supports(clean):
        return pooled.stalled(clean, seconds, allow_private=settings.allow_private_hosts)
    return APPRISE_LANES.stalled(pacing.destination_keys(url)[0][0], seconds)


def through_lane(destination: str, url: str, rendered: Rendered, settings: Settings) -> DeliveryError | None:
    """One Apprise send on its destination's lane; not tried while the provider said to wait."""
    wait = _told_to_wait.get(destination, 0.0) - time.monotonic()
    if wait > 0:
        return deferred(wait)
    error = send_one(url, rendered, settings)
    if error is not None and error.retry_after:
        _told_to_wait[destination] = time.monotonic() + error.retry_after
    return error


def _outcome(done: Future) -> DeliveryError | None:
    try:
        return done.result()
    except Exception as exc:  # noqa: BLE001 - through_apprise returns its errors; this is a surprise
        return DeliveryError(f"the sender failed ({type(exc).__name__})")


def deferred(seconds: float) -> DeliveryError:
    """Not tried: the provider told an earlier send to this destination to wait. Not a failed attempt."""
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
    rendered = dataclasses.replace(rendered, url_for_apprise=apprise_url(rendered))
    return watched(lambda: send_via_apprise(url, rendered, settings.allow_private_hosts))


def send_digest(
    url: str, stories: list[dict], settings: Settings, identity: str = ""
) -> DeliveryError | None:
    """Several held alerts of one URL as one message, carrying the digest's `identity` so a copy
    sent after a crash is recognisable as a whole. E-mail goes the pooled way when it can: Apprise's
    e-mail adds a Message-ID of its own. Everything else through Apprise (webhooks: `apprise_url`)."""
    clean = for_apprise(url)
    rendered = render_for(clean, digest_story(stories), [], settings)
    rendered = identified(rendered, clean, identity) if identity else rendered
    if rendered.channel == "email" and pooled.supports(clean):
        job = pooled.Job.for_rendered(rendered, clean)
        return pooled.send_batch([job], allow_private=settings.allow_private_hosts)[0]
    return send_one(clean, rendered, settings)


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
    """Run an Apprise send, watching the HTTP answers (429, 404/410/401, 502/503/504) and the SMTP
    errors (server down, login or mailbox refused) Apprise does not pass on."""
    with httpwatch.watch() as seen, smtpwatch.watch() as mail:
        try:
            send_it()
        except DeliveryError as exc:
            exc.permanent = exc.permanent or seen.permanent or mail.permanent
            exc.retry_after = seen.retry_after
            exc.unavailable = exc.unavailable or seen.unavailable or mail.unavailable
            return exc
    return None
