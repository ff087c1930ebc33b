"""What the operator watches and sorts by, checked before it is stored: feeds and topics.

The command line and the HTTP API both call these, so a feed or a topic is refused for the same
reasons with the same words whichever way it came in. Refusals raise `Refused` or `Conflict`
(notifier.core.refusals) and leave everything stored as it was.
"""

from __future__ import annotations

import redis

from notifier.core import netguard
from notifier.core.refusals import Conflict, Refused
from notifier.models import Feed, Topic
from notifier.settings import Settings
from notifier.stories import match, store


def watch_feed(
    r: redis.Redis, settings: Settings, url: str, interval: int | None = None, name: str | None = None
) -> tuple[Feed, bool]:
    """Add a feed (its current items will be taken as seen); (the feed, whether it is new).

    The same URL again changes nothing and returns the feed already stored."""
    url = url.strip()
    if interval is not None and interval < settings.min_interval:
        raise Refused(
            f"interval {interval}: the lowest allowed is NOTIFIER_MIN_INTERVAL ({settings.min_interval} s)"
        )
    try:
        netguard.check_url(url, settings.allow_private_hosts)
    except netguard.GuardError as exc:
        raise Refused(str(exc)) from None
    known = r.hget("feeds:byurl", url)
    interval_s = interval or settings.default_interval
    feed = store.add_feed(r, url, name or url, interval_s, forced=interval is not None)
    return feed, not known


def define_topic(
    r: redis.Redis,
    name: str,
    expr: str,
    urgent: bool = False,
    replace: bool = False,
    min_sources: int = 1,
    urgent_sources: int = 0,
) -> Topic:
    """Add a topic, or change an existing one's expression when `replace`."""
    name = name.strip()
    if not name:
        raise Refused("a topic needs a name")
    try:
        match.compile_expression(expr)
    except match.ExpressionError as exc:
        raise Refused(f"invalid expression: {exc}") from None
    if min_sources < 1:
        raise Refused("--min-sources must be 1 or more")
    if urgent_sources < 0 or urgent_sources == 1:
        raise Refused("--urgent-sources must be 2 or more (one outlet is not a breaking event)")
    topic = Topic(name, expr, urgent=urgent, min_sources=min_sources, urgent_sources=urgent_sources)
    if replace:
        store.add_topic(r, topic)
    elif not store.create_topic(r, topic):
        raise Conflict(f"topic {name!r} exists already")
    return topic


def drop_topic(r: redis.Redis, name: str) -> None:
    """Remove a topic nobody follows; a followed one is refused, naming its followers."""
    followers = store.remove_topic(r, name)  # NotFound for a topic that does not exist
    if followers:
        raise Conflict(f"topic {name!r} is followed by {', '.join(followers)}; remove it from them first")
