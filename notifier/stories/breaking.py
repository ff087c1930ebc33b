"""How strongly an event is breaking: the outlets that carry it, copies included, and when a topic
calls it urgent.

An outlet is a feed. A feed carrying an exact copy of a story another feed published first (same
guid, link or title: stories/claim.py) never becomes a story of its own, so clustering never sees
it; it is still one more outlet carrying the event, and the claim that finds it a copy records it on
the first story's cluster (`cl:o:{cluster}`) without alerting anything. A new outlet, copy or not,
fans out again the stories whose `--min-sources` topics wait for one (`cl:wait:{cluster}`).

A topic with `urgent_sources` N calls an event urgent once N outlets carried it within 10 minutes
of the first. Urgent alerts pass quiet hours for subscribers with `--urgent-passes` and use the
channel's priority (ntfy, e-mail). A URL that heard of the event before it was urgent, whose
subscriber chose `--updates`, hears it once more when it becomes urgent, as an update
(`cl:loud:{cluster}`, events.claim and alerts/same_event.py).
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

from notifier.models import Topic
from notifier.stories.events import Event

SOON = 600  # seconds: outlets within this of the first one make an event "breaking"


def urgent_topics(event: Event, topics: Iterable[Topic]) -> dict[str, str]:
    """Topic name -> why its alert of this event is urgent, for the topics that call it urgent."""
    found = {}
    for topic in topics:
        if topic.urgent_sources and event.within_10 >= topic.urgent_sources:
            found[topic.name] = f"urgent ({event.within_10} outlets within 10 min)"
        elif topic.urgent:
            found[topic.name] = "urgent topic"
    return found


def urgency_of(r: redis.Redis, story_ids: list[str]) -> dict[str, dict[str, str]]:
    """story id -> topic -> why it was urgent, as fan-out recorded it."""
    pipe = r.pipeline(transaction=False)
    for sid in story_ids:
        pipe.hgetall(f"story:{sid}:urgent")
    return dict(zip(story_ids, pipe.execute(), strict=True)) if story_ids else {}
