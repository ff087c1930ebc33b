"""The command line (typer). Bad input: one line on stderr, exit 2, nothing stored changes."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import click
import typer

from notifier import db, embedded, ledger, match, quiet, store, views
from notifier.deliver import DeliveryError, check_target
from notifier.models import Subscriber, Topic
from notifier.netguard import GuardError, check_url
from notifier.settings import SettingsError, get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Breaking-news alerts from feeds.")
feed_app = typer.Typer(no_args_is_help=True, help="Feeds to watch.")
topic_app = typer.Typer(no_args_is_help=True, help="Topics: named match expressions.")
sub_app = typer.Typer(no_args_is_help=True, help="Subscribers and where they get alerts.")
story_app = typer.Typer(no_args_is_help=True, help="Stories we have seen.")
app.add_typer(feed_app, name="feed")
app.add_typer(topic_app, name="topic")
app.add_typer(sub_app, name="subscriber")
app.add_typer(story_app, name="story")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


class UsageError(Exception):
    """Bad input from the user: exit code 2."""


def redis():
    return db.connect(db.redis_url(get_settings()))


# --- feeds -------------------------------------------------------------------------------------


@feed_app.command("add")
def feed_add(
    url: str,
    interval: Annotated[int | None, typer.Option(help="Seconds between polls.")] = None,
    name: Annotated[str | None, typer.Option(help="A name to show.")] = None,
) -> None:
    settings = get_settings()
    url = url.strip()
    guard(lambda: check_url(url, settings.allow_private_hosts))
    forced = interval is not None
    interval = interval or settings.default_interval
    if interval < settings.min_interval:
        raise UsageError(f"--interval {interval} is below NOTIFIER_MIN_INTERVAL ({settings.min_interval} s)")
    feed = store.add_feed(redis(), url, name or url, interval, forced=forced)
    print(feed.id)


@feed_app.command("list")
def feed_list(as_json: JsonFlag = False) -> None:
    views.feeds(store.list_feeds(redis()), as_json)


@feed_app.command("remove")
def feed_remove(id_or_url: str) -> None:
    r = redis()
    store.remove_feed(r, find_feed(r, id_or_url))


@feed_app.command("enable")
def feed_enable(id_or_url: str) -> None:
    r = redis()
    feed = find_feed(r, id_or_url)
    store.update_feed(r, feed.id, enabled=True, errors=0, first_error_at=None, interval_reason="re-armed")
    store.schedule_feed(r, feed.id, time.time())


@feed_app.command("import")
def feed_import(file: Path) -> None:
    """Add the feeds of an OPML file; a refused URL is reported and the others are still added."""
    from notifier import opml

    try:
        outlines = opml.read_opml(file.read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror}") from None
    except opml.OpmlError as exc:
        raise UsageError(f"{file}: {exc}") from None
    report = import_with_progress(outlines)
    for url, why in report.refused:
        print(f"notifier: {url}: {why}", file=sys.stderr)
    refused = len(report.refused)
    print(f"imported {report.imported} feeds, {report.present} already present, {refused} refused")
    if report.refused:
        raise typer.Exit(1)


def import_with_progress(outlines):
    from notifier import opml

    r, settings = redis(), get_settings()
    if len(outlines) <= 20 or not sys.stdout.isatty():
        return opml.import_feeds(r, outlines, settings)
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("importing", total=len(outlines))
        return opml.import_feeds(r, outlines, settings, lambda: bar.advance(task))


@feed_app.command("export")
def feed_export(
    file: Annotated[Path | None, typer.Argument(help="Write here instead of to stdout.")] = None,
) -> None:
    """Write every feed as OPML 2.0."""
    from notifier import opml

    data = opml.write_opml(store.list_feeds(redis()))
    if file is None:
        sys.stdout.buffer.write(data)
        return
    try:
        file.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {file}: {exc.strerror}") from None


def find_feed(r, id_or_url: str):
    try:
        return store.find_feed(r, id_or_url)
    except store.NotFound as exc:
        raise UsageError(str(exc)) from None


def guard(check) -> None:
    try:
        check()
    except (GuardError, DeliveryError, ValueError) as exc:
        raise UsageError(str(exc)) from None


# --- topics and subscribers --------------------------------------------------------------------


@topic_app.command("add")
def topic_add(
    name: str,
    match_expr: Annotated[str, typer.Option("--match", help="The expression.")],
    urgent: Annotated[bool, typer.Option(help="Alerts for it may pass quiet hours.")] = False,
) -> None:
    try:
        match.compile_expression(match_expr)
    except match.ExpressionError as exc:
        raise UsageError(f"invalid expression: {exc}") from None
    store.add_topic(redis(), Topic(name=name, expr=match_expr, urgent=urgent))


@topic_app.command("list")
def topic_list(as_json: JsonFlag = False) -> None:
    views.topics(store.list_topics(redis()), as_json)


@sub_app.command("add")
def subscriber_add(
    name: str,
    notify: Annotated[list[str], typer.Option(help="An Apprise URL.")],
    topic: Annotated[list[str], typer.Option(help="A topic name.")],
    quiet_hours: Annotated[str | None, typer.Option("--quiet", help="Hold alerts, e.g. 22:00-07:00.")] = None,
    tz: Annotated[str, typer.Option(help="Your time zone, e.g. Europe/Paris.")] = "UTC",
    digest: Annotated[str | None, typer.Option(help="hourly or daily: one message per period.")] = None,
    digest_at: Annotated[str, typer.Option(help="When a daily digest goes out (local).")] = "08:00",
    urgent_passes: Annotated[bool, typer.Option(help="Urgent topics skip quiet hours and digests.")] = False,
) -> None:
    settings = get_settings()
    r = redis()
    unknown = [t for t in topic if not store.topic_exists(r, t)]
    if unknown:
        raise UsageError(f"unknown topic: {', '.join(unknown)} (add it with `notifier topic add`)")
    for url in notify:
        guard(lambda url=url: check_target(url, settings.allow_private_hosts))
    guard(lambda: quiet.validate(quiet_hours, tz, digest, digest_at))
    sub = Subscriber(
        name=name,
        urls=tuple(dict.fromkeys(notify)),
        topics=tuple(topic),
        quiet=quiet_hours,
        tz=tz,
        digest=digest,
        digest_at=digest_at,
        urgent_passes=urgent_passes,
    )
    store.add_subscriber(r, sub)


@sub_app.command("list")
def subscriber_list(as_json: JsonFlag = False) -> None:
    views.subscribers(store.list_subscribers(redis()), as_json)


# --- looking at what happened ------------------------------------------------------------------


@app.command()
def status(as_json: JsonFlag = False) -> None:
    """Feeds and their last poll, queue depths, delivery counts, failing URLs."""
    views.status(redis(), as_json)


@app.command()
def deliveries(
    args: Annotated[list[str] | None, typer.Argument(help="`retry ID` re-queues one.")] = None,
    as_json: JsonFlag = False,
    failed: bool = False,
    story: Annotated[str | None, typer.Option(help="Only this story.")] = None,
    subscriber: Annotated[str | None, typer.Option(help="Only this subscriber.")] = None,
) -> None:
    r = redis()
    if args:
        if len(args) != 2 or args[0] != "retry":
            raise UsageError("usage: notifier deliveries retry ID")
        if not views.retry_delivery(r, args[1]):
            raise UsageError(f"no delivery with id {args[1]}")
        return
    rows = ledger.of_story(r, story) if story else ledger.recent(r)
    rows = [
        d
        for d in rows
        if (not failed or d.state == "failed") and (not subscriber or d.subscriber == subscriber)
    ]
    views.deliveries(rows, as_json)


@story_app.command("show")
def story_show(story_id: str, as_json: JsonFlag = False) -> None:
    if not views.story(redis(), story_id, as_json):
        raise UsageError(f"no story with id {story_id}")


@app.command()
def parse(file: Path) -> None:
    """Parse a local feed file; print its stories as JSON Lines."""
    from notifier.parse import parse_feed

    try:
        body = file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror}") from None
    for item in parse_feed(body, feed_id="file", url=file.resolve().as_uri()).stories:
        print(json.dumps(item.as_json(), ensure_ascii=False))


@app.command()
def poll(url_or_id: str) -> None:
    """Poll one feed now; print the new stories as JSON Lines (alerts follow on the next tick)."""
    views.poll_now(redis(), url_or_id, get_settings(), UsageError)


# --- the service -------------------------------------------------------------------------------


@app.command()
def run() -> None:
    """Worker, beat and API in one command; with REDIS_URL unset, an embedded Redis too."""
    from notifier import service

    raise typer.Exit(service.run(get_settings()))


@app.command()
def worker(
    queues: str = "tick,poll,deliver", pool: str = "prefork", concurrency: int = 2, name: str = "worker"
) -> None:
    """A Celery worker."""
    from notifier import service

    settings = use_redis_for_children()
    service.worker(queues, pool, concurrency, name, settings.log_level)


@app.command()
def beat() -> None:
    """Celery beat: one tick a second."""
    from notifier import service

    settings = use_redis_for_children()
    service.beat(settings, settings.log_level)


@app.command()
def api() -> None:
    """The HTTP API."""
    from notifier import service

    settings = use_redis_for_children()
    service.api(settings)


def use_redis_for_children():
    """Point the Celery app at the right Redis before it is imported."""
    import os

    settings = get_settings()
    if not settings.redis_url:
        os.environ["REDIS_URL"] = db.redis_url(settings)
        get_settings.cache_clear()
    return get_settings()


def main() -> None:
    try:
        settings = get_settings()
        from notifier.redact import install_log_redaction

        install_log_redaction(settings.log_level)
        code = app(standalone_mode=False)
    except (UsageError, SettingsError) as exc:
        fail(str(exc), 2)
    except (db.RedisUnavailable, embedded.EmbeddedRedisError) as exc:
        fail(str(exc), 1)
    except click.ClickException as exc:
        fail(exc.format_message(), 2)
    except click.exceptions.Abort:
        fail("aborted", 130)
    sys.exit(code if isinstance(code, int) else 0)


def fail(message: str, code: int) -> None:
    print(f"notifier: {message}", file=sys.stderr)
    sys.exit(code)
