"""`notifier story ...`: the stories we have seen, newest first, and one story in detail
(read through notifier.stories.latest and notifier.alerts.overview, as the API reads them)."""

from __future__ import annotations

from typing import Annotated

import typer

from notifier.alerts import explain, overview
from notifier.cli import output
from notifier.cli.common import JsonFlag, new_group, redis, refusals_as_usage_errors
from notifier.stories import latest, store

story_app = new_group("Stories we have seen: list them, or show one with its sources and deliveries.")


@story_app.command("list")
def story_list(
    as_json: JsonFlag = False,
    feed: Annotated[str | None, typer.Option(help="Only stories of this feed (id or URL).")] = None,
    topic: Annotated[str | None, typer.Option(help="Only stories this topic's expression matches.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 50,
) -> None:
    """Stories newest first (by publication, else by when we first saw them), baseline ones too."""
    r = redis()
    feed_id = latest.feed_id_of(r, feed) if feed else None
    with refusals_as_usage_errors():
        expr = latest.topic_expression(r, topic) if topic else None
    newest = explain.stories_explained(r, latest.newest_stories(r, feed_id, expr, limit))
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
    with refusals_as_usage_errors():
        detail = overview.story_detail(redis(), story_id)
    output.print_story(detail, as_json)
