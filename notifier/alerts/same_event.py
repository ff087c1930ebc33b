"""One alert per event: fan-out asks here which topics may alert yet (`--min-sources`) and which
subscriber URLs are hearing of the event for the first time; a URL that heard of it already gets
a later story only as an update, and only if its subscriber chose `--updates`."""

from __future__ import annotations

import redis

from notifier.alerts import ledger
from notifier.models import Topic
from notifier.stories import claim, events, store


def ready_topics(
    r: redis.Redis, story: dict, matched: dict[str, list[str]], topics: list[Topic], ttl: int
) -> tuple[events.Event, dict[str, list[str]]]:
    """The story's event, and the matched topics whose minimum of outlets it reaches; the story
    is fanned out again when another outlet joins, if some topic waits for one."""
    event = events.event_of(r, story["id"])
    needed = {t.name: t.min_sources for t in topics}
    ready = {name: found for name, found in matched.items() if needed.get(name, 1) <= event.outlets}
    waiting = sorted(set(matched) - set(ready))
    if waiting:
        events.wait_for_outlets(r, event, story["id"], ttl)
        events.note(r, story["id"], ttl, waiting=f"{', '.join(waiting)} (outlets: {event.outlets})")
    return event, ready


def admit(r: redis.Redis, story: dict, event: events.Event, rows: list[tuple], ttl: int) -> list[tuple]:
    """The rows to record: first alerts of the event, and updates for those who want them."""
    ids = {f"{row[1]}\0{row[2]}": ledger.delivery_id(row[0], row[1], row[2]) for row in rows}
    told = events.claim_first(r, event, ids, ttl)
    first = [row for row in rows if not told[f"{row[1]}\0{row[2]}"]]
    heard = [row for row in rows if told[f"{row[1]}\0{row[2]}"]]
    if not heard:
        return first
    reason = events.update_reason(story, claim.load_story(r, event.first) or {})
    keen = {s.name for s in store.get_subscribers(r, sorted({row[1] for row in heard})) if s.updates}
    updates = [row for row in heard if reason and row[1] in keen]
    parents = {ids[key]: told[key] for row in updates if told[key := f"{row[1]}\0{row[2]}"] != "baseline"}
    events.remember_threads(r, story["id"], parents, ttl)
    same = "baseline" if event.baseline else event.first
    events.note(r, story["id"], ttl, same_event=same, repeats=len(heard) - len(updates), update=reason or "")
    return first + updates
