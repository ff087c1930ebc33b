"""`notifier feed ...`: add, list, remove, enable and disable feeds; OPML import and export."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from notifier.cli import output
from notifier.cli.common import JsonFlag, UsageError, new_group, redis, refusals_as_usage_errors
from notifier.feeds import removal
from notifier.settings import get_settings
from notifier.stories import catalog, store

feed_app = new_group("Feeds to watch: add, list, remove, enable, disable, import and export (OPML).")

FeedRef = Annotated[
    str, typer.Argument(metavar="ID_OR_URL", help="The feed's id (see `feed list`) or its URL.")
]


@feed_app.command("add")
def feed_add(
    url: Annotated[str, typer.Argument(metavar="URL", help="The feed's address: an http or https URL.")],
    interval: Annotated[
        int | None,
        typer.Option(help="Poll every this many seconds, fixed (at least NOTIFIER_MIN_INTERVAL)."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name to show instead of the URL.")] = None,
) -> None:
    """Watch a feed; print its id. Its current items are taken as already seen, not alerted."""
    with refusals_as_usage_errors():
        feed, created = catalog.watch_feed(redis(), get_settings(), url, interval, name)
    print(feed.id)
    if not created:
        print(f"notifier: already watching that URL as {feed.id}; nothing changed", file=sys.stderr)


@feed_app.command("list")
def feed_list(as_json: JsonFlag = False) -> None:
    """Every feed with its last poll, its error if any, and when it is polled next."""
    output.print_feeds(store.list_feeds(redis()), as_json)


@feed_app.command("remove")
def feed_remove(id_or_url: FeedRef) -> None:
    """Stop watching a feed and forget it (stories already seen stay seen)."""
    r = redis()
    feed = feed_or_refuse(r, id_or_url)
    removal.remove_feed(r, feed, get_settings())
    output.say(f"removed feed {feed.id}:", feed.name)


@feed_app.command("enable")
def feed_enable(id_or_url: FeedRef) -> None:
    """Poll a feed again now, with its error count reset (also re-arms one disabled for errors)."""
    r = redis()
    feed = feed_or_refuse(r, id_or_url)
    store.enable_feed(r, feed.id)
    output.say(f"enabled feed {feed.id}:", feed.name)


@feed_app.command("disable")
def feed_disable(id_or_url: FeedRef) -> None:
    """Stop polling a feed but keep it (and what it has seen); `feed enable` resumes it."""
    r = redis()
    feed = feed_or_refuse(r, id_or_url)
    if not feed.enabled:
        output.say(f"feed {feed.id} is already disabled ({feed.interval_reason})")
        return
    store.disable_feed(r, feed.id, "by operator")
    output.say(f"disabled feed {feed.id}:", feed.name)


def feed_or_refuse(r, id_or_url: str):
    try:
        return store.find_feed(r, id_or_url)
    except store.NotFound as exc:
        raise UsageError(str(exc)) from None


@feed_app.command("import")
def feed_import(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="An OPML file, as feed readers export.")],
) -> None:
    """Add the feeds of an OPML file; a refused URL is reported and the others are still added."""
    from notifier.feeds import opml

    try:
        outlines = opml.read_opml(file.read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror}") from None
    except opml.OpmlError as exc:
        raise UsageError(f"{file}: {exc}") from None
    report = import_with_progress(outlines)
    for url, why in report.refused:
        print(f"notifier: {output.clean(url)}: {output.clean(why)}", file=sys.stderr)
    refused = len(report.refused)
    print(f"imported {report.imported} feeds, {report.present} already present, {refused} refused")
    if report.refused:
        raise typer.Exit(1)


def import_with_progress(outlines):
    from notifier.feeds import opml

    r, settings = redis(), get_settings()
    if len(outlines) <= 20 or not sys.stdout.isatty():
        return opml.import_feeds(r, outlines, settings)
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("importing", total=len(outlines))
        return opml.import_feeds(r, outlines, settings, lambda: bar.advance(task))


@feed_app.command("export")
def feed_export(
    file: Annotated[
        Path | None, typer.Argument(metavar="FILE", help="Write here instead of to stdout.")
    ] = None,
) -> None:
    """Write every feed as OPML 2.0."""
    from notifier.feeds import opml

    data = opml.write_opml(store.list_feeds(redis()))
    if file is None:
        sys.stdout.buffer.write(data)
        return
    try:
        file.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {file}: {exc.strerror}") from None
