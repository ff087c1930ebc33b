"""Why stories and alerts went out as they did, for `story list --json`, `story show` and
`deliveries`: urgency by breaking score, topics held back below their `--min-sources` (with the
outlets counted now), and which alerts were sent as updates of which earlier alert, and how the
channel showed it (follow_ups.py)."""

from __future__ import annotations

import redis

from notifier.alerts import follow_ups
from notifier.models import Delivery
from notifier.stories import events, store


def stories_explained(r: redis.Redis, stories: list[dict]) -> list[dict]:
    """Each story (with its `cluster`) plus outlets, urgent, held_back, why_silent and updates."""
    pipe = r.pipeline(transaction=False)
    for s in stories:
        pipe.hlen(f"cl:o:{s.get('cluster') or s['id']}")
        pipe.hgetall(f"story:{s['id']}:urgent")
        pipe.hkeys(f"story:{s['id']}:matches")
        pipe.hgetall(f"cl:note:{s['id']}")
        pipe.hgetall(f"cl:re:{s['id']}")
    found = pipe.execute() if stories else []
    needs = {t.name: t.min_sources for t in store.list_topics(r)}
    explained = []
    for n, s in enumerate(stories):
        outlets, urgent, matched, notes, updates = found[5 * n : 5 * n + 5]
        outlets = max(outlets, 1)
        held = {t: f"needs {needs[t]} outlets, has {outlets}" for t in matched if needs.get(t, 1) > outlets}
        explained.append(
            s
            | {
                "outlets": outlets,
                "urgent": urgent,
                "held_back": held,
                "why_silent": notes,
                "updates": updates,
            }
        )
    return explained


def deliveries_explained(r: redis.Redis, rows: list[Delivery]) -> list[dict]:
    """Each delivery as JSON, with `update_of` (the alert it follows up, or None) and `thread`
    (how its channel showed that)."""
    parents = events.parents_of(r, [(d.story, d.id) for d in rows])
    event_of = follow_ups.events_of(r, [d.story for d in rows if d.id in parents])
    explained = []
    for d in rows:
        thread = follow_ups.how_threaded(d.target, event_of.get(d.story)) if d.id in parents else None
        explained.append(d.as_json() | {"update_of": parents.get(d.id), "thread": thread})
    return explained
