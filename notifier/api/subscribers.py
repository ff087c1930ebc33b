"""Operator API: subscribers and their notification URLs (what `notifier subscriber ...` does)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from notifier.alerts import subscribers
from notifier.api import schemas
from notifier.api.auth import require_operator
from notifier.api.deps import get_redis
from notifier.core.refusals import Refused
from notifier.models import Subscriber
from notifier.settings import get_settings
from notifier.stories import store
from notifier.stories.views import subscriber_json

router = APIRouter(prefix="/api", tags=["operator: subscribers"], dependencies=[Depends(require_operator)])


@router.get("/subscribers", response_model=list[schemas.Subscriber])
def list_subscribers():
    """Every subscriber; URLs show their scheme and host only."""
    return [subscriber_json(s) for s in store.list_subscribers(get_redis())]


@router.get("/subscribers/{name}", response_model=schemas.Subscriber)
def get_subscriber(name: str):
    return subscriber_json(store.get_subscriber(get_redis(), name))


@router.post("/subscribers", response_model=schemas.Subscriber, status_code=201)
def add_subscriber(new: schemas.SubscriberIn):
    """Add a subscriber; every URL is checked first. An existing name is a 409."""
    sub = Subscriber(
        name=new.name,
        urls=tuple(new.notify),
        topics=tuple(new.topics),
        quiet=new.quiet,
        tz=new.tz,
        digest=new.digest,
        digest_at=new.digest_at,
        urgent_passes=new.urgent_passes,
    )
    return subscriber_json(subscribers.create(get_redis(), get_settings(), sub))


@router.patch("/subscribers/{name}", response_model=schemas.Subscriber)
def update_subscriber(name: str, change: schemas.SubscriberChange):
    """Add or remove notification URLs and topics in one change."""
    if not (change.add_notify or change.remove_notify or change.add_topics or change.remove_topics):
        raise Refused("nothing to change: give add_notify, remove_notify, add_topics or remove_topics")
    changes = (change.add_notify, change.remove_notify, change.add_topics, change.remove_topics)
    return subscriber_json(subscribers.update(get_redis(), get_settings(), name, *changes))


@router.delete("/subscribers/{name}", status_code=204)
def remove_subscriber(name: str) -> Response:
    """Remove a subscriber; alerts already queued for them are not sent."""
    store.remove_subscriber(get_redis(), name)
    return Response(status_code=204)
