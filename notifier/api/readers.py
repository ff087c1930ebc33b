"""The readers' JSON API: sign up (e-mail, double opt-in), subscribe a browser to Web Push, the
live wire, and a reader's own settings, reached only through their manage token.

A manage token opens exactly one subscriber: there is no route that takes a subscriber's name,
so one reader can never read or change another's settings. Every route here is rate-limited
per client address.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response

from notifier.alerts import links, readers, signup
from notifier.api import schemas
from notifier.api.clientip import client_ip
from notifier.api.deps import get_redis
from notifier.api.html import wire_items
from notifier.api.safety import rate_limit
from notifier.core import vapid
from notifier.settings import get_settings
from notifier.stories import store

router = APIRouter(prefix="/api", tags=["readers"])
READ, WRITE = Depends(rate_limit("read")), Depends(rate_limit("write"))


def reader_of(token: str) -> str:
    """The subscriber a manage token opens; 404 for any token we did not issue."""
    name = links.resolve_manage(get_redis(), token)
    if name is None or store.get_subscriber(get_redis(), name, missing_ok=True) is None:
        raise store.NotFound("no such manage link (it may have been unsubscribed)")
    return name


def shown(name: str) -> dict:
    r = get_redis()
    return readers.view(r, store.get_subscriber(r, name), get_settings())


@router.get("/wire", response_model=schemas.Wire, dependencies=[READ])
def wire(limit: int = Query(30, ge=1, le=100)):
    """The latest stories, newest first, and the topics a reader can follow."""
    r = get_redis()
    return {"stories": wire_items(r, limit), "topics": [t.name for t in store.list_topics(r)]}


@router.post("/subscribe", response_model=schemas.Accepted, status_code=202, dependencies=[WRITE])
def subscribe_by_email(request: Request, new: schemas.SignupIn):
    """Send a confirmation mail; alerts start only once its link is followed."""
    signup.start_email_signup(get_redis(), get_settings(), new.email, new.topics, client_ip(request))
    return {"status": "confirmation sent: follow the link in the mail to start your alerts"}


@router.get("/push/key")
def push_key() -> dict:
    """The applicationServerKey browsers subscribe with (our VAPID public key)."""
    return {"public_key": vapid.public_key(get_redis(), get_settings())}


@router.post("/push/subscriptions", response_model=schemas.Subscribed, status_code=201, dependencies=[WRITE])
def subscribe_browser(request: Request, subscription: schemas.PushSubscriptionIn):
    """Alerts for these topics go to this browser by Web Push from now on."""
    r, settings, keys = get_redis(), get_settings(), subscription.keys
    endpoint, topics = subscription.endpoint, subscription.topics
    token, channel = signup.subscribe_push(
        r, settings, endpoint, keys.p256dh, keys.auth, topics, client_ip(request)
    )
    return {"token": token, "manage_url": f"{settings.base_url}/manage/{token}", "channel": channel}


@router.get("/me/{token}", response_model=schemas.Reader, dependencies=[READ])
def my_settings(token: str):
    """A reader's topics, quiet hours and channels (targets show scheme and host only)."""
    return shown(reader_of(token))


@router.put("/me/{token}/topics", response_model=schemas.Reader, dependencies=[WRITE])
def my_topics(token: str, change: schemas.TopicsIn):
    readers.set_topics(get_redis(), reader_of(token), change.topics)
    return shown(reader_of(token))


@router.put("/me/{token}/schedule", response_model=schemas.Reader, dependencies=[WRITE])
def my_schedule(token: str, change: schemas.ScheduleIn):
    """Quiet hours (held alerts arrive as one digest when they end) and hourly or daily digests."""
    readers.set_schedule(get_redis(), reader_of(token), change.quiet, change.tz, change.digest)
    return shown(reader_of(token))


@router.post("/me/{token}/channels", response_model=schemas.Reader, status_code=201, dependencies=[WRITE])
def my_new_channel(token: str, channel: schemas.ChannelIn):
    """Add an ntfy topic or a Slack, Discord, Telegram or Matrix address; it gets a test message
    first, and is saved only if that was sent."""
    readers.add_channel(get_redis(), get_settings(), reader_of(token), channel.kind, channel.value)
    return shown(reader_of(token))


@router.post("/me/{token}/push", response_model=schemas.Subscribed, status_code=201, dependencies=[WRITE])
def my_browser(token: str, subscription: schemas.PushKeysOnly):
    """This browser, too, gets this reader's alerts by Web Push."""
    name, keys = reader_of(token), subscription.keys
    channel = readers.add_push(
        get_redis(), get_settings(), name, subscription.endpoint, keys.p256dh, keys.auth
    )
    return {"token": token, "manage_url": f"{get_settings().base_url}/manage/{token}", "channel": channel}


@router.delete("/me/{token}/channels/{channel_id}", status_code=204, dependencies=[WRITE])
def my_channel_removed(token: str, channel_id: str) -> Response:
    """Stop one channel (this browser's push, say); removing the last one unsubscribes."""
    readers.remove_channel(get_redis(), get_settings(), reader_of(token), channel_id)
    return Response(status_code=204)


@router.delete("/me/{token}", status_code=204, dependencies=[WRITE])
def leave(token: str) -> Response:
    """Unsubscribe from everything."""
    readers.leave(get_redis(), reader_of(token))
    return Response(status_code=204)
