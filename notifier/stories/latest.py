"""The latest stories, newest first, optionally of one feed or matching one topic: what
`notifier story list`, the API's /api/stories and the page's live wire show.

It walks the first-seen indexes of notifier/stories/claim.py newest first, a page at a time,
until it has `limit` stories that pass the filters: its cost follows what it shows.
"""

from __future__ import annotations

from datetime import datetime

import redis

from notifier.stories import claim, cluster, match, store
from notifier.stories.views import iso_of_timestamp, utc_iso

PAGE = 200  # stories read per round trip while looking for `limit` that pass the filters


def feed_id_of(r: redis.Redis, id_or_url: str) -> str:
    """A stored feed's id; an unknown value is taken as the id of a feed removed since."""
    try:
        return store.find_feed(r, id_or_url).id
    except store.NotFound:
        return id_or_url


def topic_expression(r: redis.Redis, name: str) -> match.Expr:
    topic = next((t for t in store.list_topics(r) if t.name == name), None)
    if topic is None:
        raise store.NotFound(f"no topic named {name!r}")
    return match.compile_expression(topic.expr)


def wanted(story: dict, expr: match.Expr | None) -> bool:
    if story.get("notice"):
        return False  # what we tell people about feeds and URLs is not a story
    if expr is None:
        return True
    text = match.story_text(story.get("title") or "", story.get("summary") or "")
    return match.matches(expr, match.index_text(text))


def newest_stories(r: redis.Redis, feed_id: str | None, expr: match.Expr | None, limit: int) -> list[dict]:
    """Up to `limit` stories newest first: by publication, else by when we first saw them.

    Pages come in first-seen order, so a story we saw long ago with a recent date is ordered
    among what was read, not searched for in the whole index."""
    found: list[dict] = []
    offset, page = 0, max(limit, PAGE)
    while len(found) < limit:
        ids = claim.newest(r, feed_id, offset, page)
        if not ids:
            break
        loaded = claim.load_stories(r, [sid for sid, _ in ids])
        for sid, seen in ids:
            story = loaded.get(sid)
            if story and wanted(story, expr):
                found.append(story | {"_newness": published_ts(story.get("published")) or seen})
        offset += page
    newest = sorted(found, key=lambda s: (s["_newness"], s["id"]), reverse=True)[:limit]
    clusters = cluster.of_stories(r, [s["id"] for s in newest])
    return [s | dict(zip(("cluster", "cluster_size"), clusters[s["id"]], strict=True)) for s in newest]


def published_ts(text: str | None) -> float | None:
    iso = utc_iso(text)
    try:
        return datetime.fromisoformat(iso).timestamp() if iso else None
    except ValueError:
        return None


def matched_topics(r: redis.Redis, story_ids: list[str]) -> dict[str, list[str]]:
    """The topics each story matched when it was fanned out (none for baseline stories)."""
    pipe = r.pipeline(transaction=False)
    for sid in story_ids:
        pipe.hkeys(f"story:{sid}:matches")
    return {sid: sorted(names) for sid, names in zip(story_ids, pipe.execute(), strict=True)}


def wire(r: redis.Redis, limit: int = 30) -> list[dict]:
    """The live wire: the newest stories with their source's name and the topics they matched."""
    stories = newest_stories(r, None, None, limit)
    names = {f.id: f.name for f in store.get_feeds(r, sorted({s.get("feed") or "" for s in stories} - {""}))}
    topics = matched_topics(r, [s["id"] for s in stories])
    return [
        {
            "id": s["id"],
            "title": s.get("title") or "(untitled)",
            "link": s.get("link"),
            "source": names.get(s.get("feed") or "", "a removed feed"),
            "topics": topics[s["id"]],
            "time": iso_of_timestamp(s["_newness"]),
        }
        for s in stories
    ]
