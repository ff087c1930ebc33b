"""`notifier story ...`: the stories we have seen, newest first, and one story in detail.

`story list` walks the first-seen indexes of notifier/stories/claim.py newest first, a page at
a time, until it has --limit stories that pass the filters: its cost follows what it shows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from notifier.alerts import ledger
from notifier.cli import output
from notifier.cli.common import JsonFlag, UsageError, new_group, redis
from notifier.stories import claim, match, store

story_app = new_group("Stories we have seen: list them, or show one with its sources and deliveries.")

PAGE = 200  # stories read per round trip while looking for --limit that pass the filters


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
    newest = newest_stories(r, feed_id, expr, limit)
    feed_names = {f.id: f.name for f in store.list_feeds(r)}
    output.print_stories(newest, feed_names, as_json)


@story_app.command("show")
def story_show(
    story_id: Annotated[
        str, typer.Argument(metavar="ID", help="A story id (see `story list` or `deliveries`).")
    ],
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


def wanted(story: dict, expr: match.Expr | None) -> bool:
    if story.get("notice"):
        return False  # what we tell people about feeds and URLs is not a story
    if expr is None:
        return True
    text = match.story_text(story.get("title") or "", story.get("summary") or "")
    return match.matches(expr, match.index_text(text))


def newest_stories(r, feed_id: str | None, expr: match.Expr | None, limit: int) -> list[dict]:
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
    return sorted(found, key=lambda s: (s["_newness"], s["id"]), reverse=True)[:limit]


def published_ts(text: str | None) -> float | None:
    iso = output.utc_iso(text)
    try:
        return datetime.fromisoformat(iso).timestamp() if iso else None
    except ValueError:
        return None
