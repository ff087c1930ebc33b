"""`notifier topic ...`: named match expressions that subscribers follow."""

from __future__ import annotations

from typing import Annotated

import typer

from notifier.cli import output
from notifier.cli.common import JsonFlag, new_group, redis, refusals_as_usage_errors
from notifier.stories import catalog, store

topic_app = new_group("Topics: named match expressions that subscribers follow.")


@topic_app.command("add")
def topic_add(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="The topic's name, as subscribers will name it.")
    ],
    match_expr: Annotated[
        str,
        typer.Option("--match", help='What a story must say: words, "phrases", AND, OR, NOT, ( ).'),
    ],
    replace: Annotated[bool, typer.Option(help="Change the expression of an existing topic.")] = False,
    urgent: Annotated[bool, typer.Option(help="Its alerts may pass quiet hours and digests.")] = False,
    min_sources: Annotated[
        int, typer.Option(min=1, help="Alert only once this many outlets carry the event.")
    ] = 1,
    urgent_sources: Annotated[
        int,
        typer.Option(
            min=0, help="Urgent once this many outlets carry the event within 10 minutes (0: never)."
        ),
    ] = 0,
) -> None:
    """Add a topic; an existing NAME is refused unless --replace."""
    with refusals_as_usage_errors("add --replace to change its expression"):
        topic = catalog.define_topic(
            redis(),
            name,
            match_expr,
            urgent=urgent,
            replace=replace,
            min_sources=min_sources,
            urgent_sources=urgent_sources,
        )
    extra = (" (urgent)" if urgent else "") + (f" (from {min_sources} outlets)" if min_sources > 1 else "")
    extra += f" (urgent from {urgent_sources} outlets within 10 min)" if urgent_sources else ""
    output.say(f"topic {topic.name}: {match_expr}{extra}")


@topic_app.command("list")
def topic_list(as_json: JsonFlag = False) -> None:
    """Every topic and its expression."""
    output.print_topics(store.list_topics(redis()), as_json)


@topic_app.command("remove")
def topic_remove(name: Annotated[str, typer.Argument(metavar="NAME", help="The topic to remove.")]) -> None:
    """Remove a topic nobody follows. A followed topic is refused, naming its followers:
    take it from them first with `subscriber update NAME --remove-topic TOPIC`."""
    with refusals_as_usage_errors(f"notifier subscriber update NAME --remove-topic {name}"):
        catalog.drop_topic(redis(), name)
    output.say(f"removed topic {name}")
