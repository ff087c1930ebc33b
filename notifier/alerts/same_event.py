"""One alert per event: fan-out asks here which topics may alert yet (`--min-sources`) and which
subscriber URLs are hearing of the event for the first time; a URL that heard of it already gets
a later story only as an update, and only if its subscriber chose `--updates`. An event that
becomes urgent after its first alert is such an update too (stories/breaking.py)."""

from __future__ import annotations

import redis

from notifier.alerts import ledger
from notifier.models import Topic
from notifier.stories import claim, events, store


def ready_topics(
    r: redis.Redis, story: dict, matched: dict[str, list[str]], topics: list[Topic], ttl: int
) -> tuple[events.Event, dict[str, list[str]], list[str]]:
    """The story's event, the matched topics whose minimum of outlets it reaches, and the names of
    those still waiting for more outlets (the caller has the story fanned out again then)."""
    event = events.event_of(r, story["id"])
    needed = {t.name: t.min_sources for t in topics}
    ready = {name: found for name, found in matched.items() if needed.get(name, 1) <= event.outlets}
    waiting = sorted(set(matched) - set(ready))
    if waiting:
        held = ", ".join(f"{name} (needs {needed[name]})" for name in waiting)
        events.note(r, story["id"], ttl, waiting=f"{held}; {event.outlets} outlet(s) when judged")
    return event, ready, waiting


def admit(
    r: redis.Redis,
    story: dict,
    event: events.Event,
    rows: list[tuple],
    ttl: int,
    urgent: dict[str, str],
    ids: dict[str, str] | None = None,
    tally: dict[str, int] | None = None,
) -> list[tuple]:
    """The rows to record: first alerts of the event, and updates for those who want them.
    `urgent`: topic -> why, for the topics that find this event urgent. A fan-out in steps passes
    `ids` ((subscriber NUL url hash) -> delivery id, hashed once) and one `tally` for all its steps,
    so the story's note counts the repeats of every step, not the last one's."""
    ids = ids or {f"{row[1]}\0{row[2]}": ledger.delivery_id(row[0], row[1], row[2]) for row in rows}
    scored = {name for name, why in urgent.items() if why != "urgent topic"}  # urgent by breaking score
    told = events.claim(r, event, ids, ttl, urgent=bool(scored))
    first = [row for row in rows if not told[f"{row[1]}\0{row[2]}"][0]]
    heard = [row for row in rows if told[f"{row[1]}\0{row[2]}"][0]]
    if not heard:
        return first
    reason = events.update_reason(story, claim.load_story(r, event.first) or {})
    keen = {s.name: s for s in store.get_subscribers(r, sorted({row[1] for row in heard})) if s.updates}
    updates = [row for row in heard if row[1] in keen and (reason or _louder(row, told, keen, scored))]
    parents = {}
    for row in updates:
        if (parent := told[key := f"{row[1]}\0{row[2]}"][0]) != "baseline":
            parents[ids[key]] = parent
    events.remember_threads(r, story["id"], parents, ttl)
    same = "baseline" if event.baseline else event.first
    why = reason or (f"now {urgent[min(scored)]}" if updates else "")
    tally = {} if tally is None else tally
    tally["repeats"] = tally.get("repeats", 0) + len(heard) - len(updates)
    events.note(r, story["id"], ttl, same_event=same, repeats=tally["repeats"], update=why)
    return first + updates


def _louder(row: tuple, told: dict, keen: dict, scored: set[str]) -> bool:
    """This URL heard of the event before it was urgent, and follows a topic that now calls it so."""
    return told[f"{row[1]}\0{row[2]}"][1] and bool(scored.intersection(keen[row[1]].topics))
