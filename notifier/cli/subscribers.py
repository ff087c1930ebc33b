"""`notifier subscriber ...`: who gets alerts, through which notification URLs, for which topics.

Every URL is checked before anything is stored: Apprise must understand it, its host must pass
the address guard, and our own `?rate=` override must be a rate. A refusal changes nothing.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from notifier.cli import output
from notifier.cli.common import JsonFlag, UsageError, new_group, redis, refuse_unless
from notifier.core.redact import redact
from notifier.models import Subscriber, url_hash
from notifier.settings import get_settings
from notifier.stories import quiet, store

subscriber_app = new_group("Subscribers: who gets alerts, where, and for which topics.")

Name = Annotated[str, typer.Argument(metavar="NAME", help="The subscriber's name.")]
Urls = list[str] | None


@subscriber_app.command("add")
def subscriber_add(
    name: Name,
    notify: Annotated[
        list[str], typer.Option(metavar="URL", help="An Apprise URL to alert (repeat for more).")
    ],
    topic: Annotated[list[str], typer.Option(metavar="TOPIC", help="A topic to follow (repeat for more).")],
    quiet_hours: Annotated[str | None, typer.Option("--quiet", help="Hold alerts, e.g. 22:00-07:00.")] = None,
    tz: Annotated[str, typer.Option(help="Their time zone, e.g. Europe/Paris.")] = "UTC",
    digest: Annotated[str | None, typer.Option(help="hourly or daily: one message per period.")] = None,
    digest_at: Annotated[str, typer.Option(help="When a daily digest goes out (local time).")] = "08:00",
    urgent_passes: Annotated[bool, typer.Option(help="Urgent topics skip quiet hours and digests.")] = False,
) -> None:
    """Add a subscriber; an existing NAME is refused (change it with `subscriber update`)."""
    if not name.strip():
        raise UsageError("a subscriber needs a name")
    r = redis()
    if store.get_subscriber(r, name, missing_ok=True):
        raise UsageError(f"subscriber {name!r} exists already; change it with `notifier subscriber update`")
    refuse_unknown_topics(r, topic)
    for url in notify:
        check_target(url)
    refuse_unless(lambda: quiet.validate(quiet_hours, tz, digest, digest_at))
    details = dict(quiet=quiet_hours, tz=tz, digest=digest, digest_at=digest_at, urgent_passes=urgent_passes)
    sub = Subscriber(
        name=name, urls=tuple(dict.fromkeys(notify)), topics=tuple(dict.fromkeys(topic)), **details
    )
    store.add_subscriber(r, sub)
    describe(sub)


@subscriber_app.command("update")
def subscriber_update(
    name: Name,
    add_notify: Annotated[
        Urls, typer.Option(metavar="URL", help="A notification URL to add (or re-enable).")
    ] = None,
    remove_notify: Annotated[Urls, typer.Option(metavar="URL", help="A notification URL to remove.")] = None,
    add_topic: Annotated[Urls, typer.Option(metavar="TOPIC", help="A topic to follow too.")] = None,
    remove_topic: Annotated[Urls, typer.Option(metavar="TOPIC", help="A topic to stop following.")] = None,
) -> None:
    """Add or remove notification URLs and topics; each option may be repeated."""
    r = redis()
    sub = store.get_subscriber(r, name, missing_ok=True)
    if sub is None:
        raise UsageError(f"no subscriber named {name!r}")
    if not (add_notify or remove_notify or add_topic or remove_topic):
        raise UsageError(
            "nothing to change: give --add-notify, --remove-notify, --add-topic or --remove-topic"
        )
    for url in add_notify or ():
        check_target(url)
    refuse_unknown_topics(r, add_topic or ())
    urls, disabled = changed_urls(sub, add_notify or [], remove_notify or [])
    topics = changed_topics(sub, add_topic or [], remove_topic or [])
    updated = dataclasses.replace(sub, urls=urls, topics=topics, disabled=disabled)
    store.add_subscriber(r, updated)  # rewrites the topic indexes from the old record to the new
    describe(updated)


def changed_urls(sub: Subscriber, add: list[str], remove: list[str]) -> tuple[tuple, tuple]:
    """The URLs and disabled URL hashes after the change; a URL added again is re-enabled."""
    urls, disabled = list(sub.urls), list(sub.disabled)
    for url in dict.fromkeys(remove):
        if url not in urls:
            raise UsageError(f"{sub.name} has no notification URL {redact(url)}")
        urls.remove(url)
    for url in dict.fromkeys(add):
        if url in urls and url_hash(url) not in disabled:
            raise UsageError(f"{sub.name} already has {redact(url)}")
        if url not in urls:
            urls.append(url)
        disabled = [h for h in disabled if h != url_hash(url)]
    if not urls:
        raise UsageError(f"{sub.name} would have no notification URL left; `subscriber remove` removes them")
    return tuple(urls), tuple(h for h in disabled if h in {url_hash(u) for u in urls})


def changed_topics(sub: Subscriber, add: list[str], remove: list[str]) -> tuple:
    topics = list(sub.topics)
    for name in dict.fromkeys(remove):
        if name not in topics:
            raise UsageError(f"{sub.name} does not follow {name!r}")
        topics.remove(name)
    for name in dict.fromkeys(add):
        if name in topics:
            raise UsageError(f"{sub.name} follows {name!r} already")
        topics.append(name)
    if not topics:
        raise UsageError(f"{sub.name} would follow no topic; `subscriber remove` removes them")
    return tuple(topics)


@subscriber_app.command("list")
def subscriber_list(as_json: JsonFlag = False) -> None:
    """Every subscriber: URLs (scheme and host only), topics, quiet hours, digests."""
    output.print_subscribers(store.list_subscribers(redis()), as_json)


@subscriber_app.command("remove")
def subscriber_remove(name: Name) -> None:
    """Remove a subscriber; alerts already queued for them are not sent."""
    try:
        store.remove_subscriber(redis(), name)
    except store.NotFound as exc:
        raise UsageError(str(exc)) from None
    output.say(f"removed subscriber {name}")


def check_target(url: str) -> None:
    """Refuse a URL Apprise cannot use, on a refused address, or with a `?rate=` that is no rate."""
    from notifier.alerts.channels.via_apprise import check_notify_url
    from notifier.alerts.pacing import split_rate_override

    try:
        split_rate_override(url)
    except ValueError as exc:
        raise UsageError(f"{redact(url)}: {exc}") from None
    refuse_unless(lambda: check_notify_url(url, get_settings().allow_private_hosts))


def refuse_unknown_topics(r, names) -> None:
    unknown = [t for t in names if not store.topic_exists(r, t)]
    if unknown:
        raise UsageError(f"unknown topic: {', '.join(unknown)} (add it with `notifier topic add`)")


def describe(sub: Subscriber) -> None:
    targets = ", ".join(redact(u) for u in sub.active_urls())
    output.say(
        f"subscriber {sub.name}: {len(sub.active_urls())} URL(s) ({targets}); topics: {', '.join(sub.topics)}"
    )
