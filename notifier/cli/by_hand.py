"""`notifier poll` and `notifier parse`: one step of the pipeline run by hand, to try a feed."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated

import typer

from notifier.cli import output
from notifier.cli.common import CommandFailed, UsageError, redis
from notifier.settings import get_settings
from notifier.stories import claim, store


def poll_one(
    url_or_id: Annotated[
        str, typer.Argument(metavar="URL_OR_ID", help="A watched feed's id or URL, or any feed URL to try.")
    ],
) -> None:
    """Poll one feed now; print its new stories as JSON Lines (alerts follow on the next tick).

    A URL we do not watch is fetched and parsed, and all its stories are printed. A failed
    fetch exits 1 with the error on stderr."""
    r, settings = redis(), get_settings()
    try:
        feed = store.find_feed(r, url_or_id)
    except store.NotFound:
        return try_url(url_or_id, settings)
    if not feed.enabled:
        raise UsageError(f"feed {feed.id} is disabled ({feed.interval_reason}); `feed enable` it first")
    from notifier import pipeline

    if settings.log_level != "DEBUG":  # our one line says how the poll went; its log would repeat it
        logging.getLogger("notifier").setLevel(logging.ERROR)
    new = pipeline.poll_feeds(r, [feed.id], settings)
    if new:
        r.zadd("stories:pending", dict.fromkeys(new, time.time()))  # fan out on the next tick
    after = store.get_feed(r, feed.id)
    if after.errors > feed.errors and after.last_error:
        raise CommandFailed(f"poll of {feed.id} failed: {after.last_error}")
    stories = claim.load_stories(r, new)
    for sid in new:
        if sid in stories:
            output.emit_json_line(output.story_json(stories[sid]))


def try_url(url: str, settings) -> None:
    """Fetch and parse a URL we do not watch; store nothing."""
    from notifier.core.netguard import GuardError, check_url
    from notifier.feeds.fetch import FetchError, FetchLimits, fetch
    from notifier.feeds.parse import parse_feed

    try:
        check_url(url, settings.allow_private_hosts)
    except (GuardError, ValueError) as exc:
        raise UsageError(f"not a watched feed, and not a URL we may fetch: {exc}") from None
    try:
        result = fetch(url, limits=FetchLimits.from_settings(settings))
    except FetchError as exc:
        raise CommandFailed(f"fetch failed: {exc}") from None
    parsed = parse_feed(
        result.body or b"", feed_id="adhoc", url=result.final_url, content_type=result.content_type
    )
    for item in parsed.stories:
        output.emit_json_line(output.story_json(item.as_json()))


def parse_file(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="A feed document (RSS, Atom, JSON Feed) on disk.")
    ],
) -> None:
    """Parse a local feed file; print its stories as JSON Lines. Nothing is stored."""
    from notifier.feeds.parse import parse_feed

    body = read_capped(file, get_settings().fetch_max_bytes)
    for item in parse_feed(body, feed_id="file", url=file.resolve().as_uri()).stories:
        output.emit_json_line(output.story_json(item.as_json()))


def read_capped(file: Path, limit: int) -> bytes:
    """The file's bytes, refused before reading when larger than a fetch may be."""
    too_big = f"{file} is larger than NOTIFIER_FETCH_MAX_BYTES ({limit} bytes), the cap on any feed"
    try:
        if file.stat().st_size > limit:
            raise UsageError(too_big)
        with file.open("rb") as stream:
            body = stream.read(limit + 1)  # a pipe or device has no size to check beforehand
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror}") from None
    if len(body) > limit:
        raise UsageError(too_big)
    return body
