"""`notifier story ...`: the stories we have seen, newest first, and one story in detail.

Stories live as `story:{id}` strings with a TTL (notifier/stories/claim.py) and nothing indexes
them by time, feed or topic yet, so `story list` SCANs the keyspace: its cost grows with every
key in the database, not with --limit. Fine for an operator's command, not for a hot path.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Annotated

import typer

from notifier.alerts import ledger
from notifier.cli import output
from notifier.cli.common import JsonFlag, UsageError, new_group, redis
from notifier.settings import get_settings
from notifier.stories import claim, match, store

story_app = new_group("Stories we have seen: list them, or show one with its sources and deliveries.")

CHUNK = 1000  # keys per round trip while reading what SCAN found


@story_app.command("list")
def story_list(
    as_json: JsonFlag = False,
    feed: Annotated[str | None, typer.Option(help="Only stories of this feed (id or URL).")] = None,
    topic: Annotated[str | None, typer.Option(help="Only stories this topic's expression matches.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 50,
) -> None:
    """Stories newest first (by publication, else by when we first saw them), baseline ones too."""
    r = redis()
    feed_id = feed_id_of(r, feed) if feed else None
    expr = topic_expression(r, topic) if topic else None
    found = [s for s in every_story(r) if wanted(s, feed_id, expr)]
    found.sort(key=lambda s: s["_newness"], reverse=True)
    feed_names = {f.id: f.name for f in store.list_feeds(r)}
    output.print_stories(found[:limit], feed_names, as_json)


@story_app.command("show")
def story_show(
    story_id: Annotated[str, typer.Argument(metavar="ID", help="A story id (see `story list` or `deliveries`).")],
    as_json: JsonFlag = False,
) -> None:
    """A story, the feeds it came from, the topics it matched and why, and its deliveries."""
    r = redis()
    record = claim.load_story(r, story_id)
    if record is None:
        raise UsageError(f"no story with id {story_id}")
    detail = {
        **output.story_json(record),
        "sources": sorted(r.smembers(f"story:{story_id}:sources")),
        "matched": r.hgetall(f"story:{story_id}:matches"),
        "deliveries": [d.as_json() for d in ledger.of_story(r, story_id)],
    }
    output.print_story(detail, as_json)


def feed_id_of(r, id_or_url: str) -> str:
    """A stored feed's id; an unknown value is taken as the id of a feed removed since."""
    try:
        return store.find_feed(r, id_or_url).id
    except store.NotFound:
        return id_or_url


def topic_expression(r, name: str) -> match.Expr:
    topic = next((t for t in store.list_topics(r) if t.name == name), None)
    if topic is None:
        raise UsageError(f"no topic named {name!r}")
    return match.compile_expression(topic.expr)


def wanted(story: dict, feed_id: str | None, expr: match.Expr | None) -> bool:
    if feed_id and story.get("feed") != feed_id:
        return False
    if expr is None:
        return True
    text = match.story_text(story.get("title") or "", story.get("summary") or "")
    return match.matches(expr, match.index_text(text))


def every_story(r) -> list[dict]:
    """Every stored story from a feed (not the notices we send about feeds and URLs), each with
    `_newness`: its publication time, else the time we first saw it (read back from its TTL)."""
    keys = [k for k in r.scan_iter("story:*", count=CHUNK, _type="string") if k.count(":") == 1]
    ttl, now, stories = get_settings().story_ttl, time.time(), []
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        pipe = r.pipeline(transaction=False)
        pipe.mget(chunk)
        for key in chunk:
            pipe.ttl(key)
        raws, *ttls = pipe.execute()
        for raw, left in zip(raws, ttls, strict=True):
            story = json.loads(raw) if raw else None
            if story and not story.get("notice"):
                seen = now - (ttl - left) if left and left > 0 else now
                stories.append(story | {"_newness": published_ts(story.get("published")) or seen})
    return stories


def published_ts(text: str | None) -> float | None:
    iso = output.utc_iso(text)
    try:
        return datetime.fromisoformat(iso).timestamp() if iso else None
    except ValueError:
        return None
