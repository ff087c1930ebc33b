"""`notifier topic ...`: named match expressions that subscribers follow."""

from __future__ import annotations

from typing import Annotated

import typer

from notifier.cli import output
from notifier.cli.common import JsonFlag, UsageError, new_group, redis
from notifier.models import Topic
from notifier.stories import match, store

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
) -> None:
    """Add a topic; an existing NAME is refused unless --replace."""
    name = name.strip()
    if not name:
        raise UsageError("a topic needs a name")
    try:
        match.compile_expression(match_expr)
    except match.ExpressionError as exc:
        raise UsageError(f"invalid expression: {exc}") from None
    topic, r = Topic(name=name, expr=match_expr, urgent=urgent), redis()
    if replace:
        store.add_topic(r, topic)
    elif not store.create_topic(r, topic):
        raise UsageError(f"topic {name!r} exists already; add --replace to change its expression")
    output.say(f"topic {name}: {match_expr}" + (" (urgent)" if urgent else ""))


@topic_app.command("list")
def topic_list(as_json: JsonFlag = False) -> None:
    """Every topic and its expression."""
    output.print_topics(store.list_topics(redis()), as_json)


@topic_app.command("remove")
def topic_remove(name: Annotated[str, typer.Argument(metavar="NAME", help="The topic to remove.")]) -> None:
    """Remove a topic nobody follows. A followed topic is refused, naming its followers:
    take it from them first with `subscriber update NAME --remove-topic TOPIC`."""
    try:
        followers = store.remove_topic(redis(), name)
    except store.NotFound as exc:
        raise UsageError(str(exc)) from None
    if followers:
        raise UsageError(
            f"topic {name!r} is followed by {', '.join(followers)}; remove it from them first "
            f"(notifier subscriber update NAME --remove-topic {name})"
        )
    output.say(f"removed topic {name}")
