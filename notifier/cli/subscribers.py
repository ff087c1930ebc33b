"""`notifier subscriber ...`: who gets alerts, through which notification URLs, for which topics.

The checks (Apprise understands the URL, its host passes the address guard, `?rate=` is a rate)
live in notifier.alerts.subscribers, shared with the HTTP API. A refusal changes nothing.
"""

from __future__ import annotations

from typing import Annotated

import typer

from notifier.alerts import subscribers
from notifier.cli import output
from notifier.cli.common import JsonFlag, UsageError, new_group, redis, refusals_as_usage_errors
from notifier.core.redact import redact
from notifier.models import Subscriber
from notifier.settings import get_settings
from notifier.stories import store

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
    updates: Annotated[
        bool, typer.Option(help="Also hear substantive updates of an event already alerted (threaded).")
    ] = False,
) -> None:
    """Add a subscriber; an existing NAME is refused (change it with `subscriber update`)."""
    details = dict(quiet=quiet_hours, tz=tz, digest=digest, digest_at=digest_at, urgent_passes=urgent_passes)
    details["updates"] = updates
    sub = Subscriber(name=name, urls=tuple(notify), topics=tuple(topic), **details)
    with refusals_as_usage_errors("change it with `notifier subscriber update`"):
        describe(subscribers.create(redis(), get_settings(), sub))


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
    if store.get_subscriber(r, name, missing_ok=True) is None:
        raise UsageError(f"no subscriber named {name!r}")
    if not (add_notify or remove_notify or add_topic or remove_topic):
        raise UsageError(
            "nothing to change: give --add-notify, --remove-notify, --add-topic or --remove-topic"
        )
    with refusals_as_usage_errors():
        changes = (add_notify or (), remove_notify or (), add_topic or (), remove_topic or ())
        updated = subscribers.update(r, get_settings(), name, *changes)
    describe(updated)


@subscriber_app.command("list")
def subscriber_list(as_json: JsonFlag = False) -> None:
    """Every subscriber: URLs (scheme and host only), topics, quiet hours, digests."""
    output.print_subscribers(store.list_subscribers(redis()), as_json)


@subscriber_app.command("remove")
def subscriber_remove(name: Name) -> None:
    """Remove a subscriber; alerts already queued for them are not sent."""
    with refusals_as_usage_errors():
        store.remove_subscriber(redis(), name)
    output.say(f"removed subscriber {name}")


def describe(sub: Subscriber) -> None:
    targets = ", ".join(redact(u) for u in sub.active_urls())
    output.say(
        f"subscriber {sub.name}: {len(sub.active_urls())} URL(s) ({targets}); topics: {', '.join(sub.topics)}"
    )
