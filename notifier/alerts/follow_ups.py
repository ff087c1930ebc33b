"""How an alert shows that it belongs to an event, channel by channel.

An update (a later story of an event, for a `--updates` subscriber) follows the first alert that
URL got of the event (`events.parents_of`):

- e-mail: In-Reply-To and References name the first alert's Message-ID (mail_threads.py), on the
  pooled path and through Apprise alike (channels/via_apprise.py keeps our Message-ID there);
- ntfy: every alert of one event carries the same tag, `event-{cluster}` (Apprise's ntfy plugin
  has no message or sequence id to send, so the tag is what groups them);
- JSON webhooks: `event` and `update_of` (the first alert's delivery id) in the body;
- Web Push: the notification's tag is the event, so an update replaces the first alert on the
  device; `renotify` makes it ring again (our service worker passes both to showNotification);
- Slack, Mattermost, Discord, Telegram and every other channel: no thread we can reach. Slack's
  incoming webhooks cannot reply in a thread; its bot mode can (`#channel:ts`), but Apprise does
  not hand back the `ts` of the first message. Apprise's Mattermost plugin has no `root_id`, its
  Discord `thread` and Telegram `thread` name a thread chosen beforehand, not a reply. So the text
  starts "Update: {first alert's title} —" and reads as a follow-up.
"""

from __future__ import annotations

import dataclasses

import redis

from notifier.alerts import ledger
from notifier.stories import claim

THREADED = ("email", "json")  # channels that carry the thread in headers or fields, not in the text


@dataclasses.dataclass(frozen=True)
class FollowUp:
    parent: str  # the delivery id of the first alert this URL got of the event
    first_title: str


def follow_ups(r: redis.Redis, parents: dict[str, str]) -> dict[str, FollowUp]:
    """delivery id -> what it follows up, for the deliveries that are updates."""
    if not parents:
        return {}
    firsts = {d.id: d.story for d in ledger.get_many(r, sorted(set(parents.values())))}
    titles = {sid: s.get("title") or "" for sid, s in claim.load_stories(r, list(firsts.values())).items()}
    return {
        delivery: FollowUp(parent, titles.get(firsts.get(parent, ""), ""))
        for delivery, parent in parents.items()
    }


def events_of(r: redis.Redis, story_ids: list[str]) -> dict[str, str]:
    """story id -> its event (cluster) id; a story never placed is an event of its own."""
    unique = sorted(set(story_ids))
    records = r.mget([f"cl:doc:{sid}" for sid in unique]) if unique else []
    return {sid: raw.split("\t")[1] if raw else sid for sid, raw in zip(unique, records, strict=True)}


def with_context(story: dict, follow_up: FollowUp | None, event: str | None) -> dict:
    """The story as the renderer gets it: `event` for tags and fields, `update_of` and `first_title`
    for an update."""
    extra = {"event": event} if event else {}
    if follow_up:
        extra |= {"update_of": follow_up.parent, "first_title": follow_up.first_title}
    return story | extra if extra else story


def update_title(channel: str, story: dict) -> str:
    """The title an update shows on a channel that cannot thread it."""
    title = str(story.get("title") or "")
    if channel in THREADED or not story.get("update_of"):
        return title
    first = " ".join(str(story.get("first_title") or "").split())
    return f"Update: {first} — {title}" if first else f"Update: {title}"


def how_threaded(target: str, event: str | None = None) -> str:
    """How an update to this target (scheme://host) shows what it follows, for the ledger's readers."""
    scheme = target.partition("://")[0].lower()
    if scheme in ("mailto", "mailtos"):
        return "e-mail thread: In-Reply-To and References name the first alert's Message-ID"
    if scheme in ("ntfy", "ntfys"):
        return f"ntfy tag event-{event}: the same on every alert of the event" if event else "ntfy tag"
    if scheme in ("json", "jsons"):
        return "fields update_of and event in the JSON body"
    if scheme in ("webpush", "webpushs"):
        return "Web Push tag of the event: it replaces the first alert on the device, and rings again"
    return "this channel cannot thread: the text begins 'Update: <first alert's title>'"
