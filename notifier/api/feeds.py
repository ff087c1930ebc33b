"""Operator API: feeds (what `notifier feed ...` does), OPML in and out, and topics."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends, Response
from fastapi.responses import JSONResponse

from notifier.api import schemas
from notifier.api.auth import require_operator
from notifier.api.deps import get_redis
from notifier.feeds import removal
from notifier.settings import get_settings
from notifier.stories import catalog, store
from notifier.stories.views import feed_json, topic_json

router = APIRouter(
    prefix="/api", tags=["operator: feeds and topics"], dependencies=[Depends(require_operator)]
)


@router.get("/feeds", response_model=list[schemas.Feed])
def list_feeds():
    """Every feed with its last poll, its error if any, and when it is polled next."""
    return [feed_json(f) for f in store.list_feeds(get_redis())]


@router.post("/feeds", response_model=schemas.Feed, status_code=201, responses={200: {"model": schemas.Feed}})
def add_feed(feed: schemas.FeedIn):
    """Watch a feed; its current items are taken as seen, not alerted. The same URL again: 200."""
    added, created = catalog.watch_feed(get_redis(), get_settings(), feed.url, feed.interval, feed.name)
    return JSONResponse(feed_json(added), status_code=201 if created else 200)


@router.get("/feeds/{feed_id}", response_model=schemas.Feed)
def get_feed(feed_id: str):
    return feed_json(store.get_feed(get_redis(), feed_id))


@router.delete("/feeds/{feed_id}", status_code=204)
def remove_feed(feed_id: str) -> Response:
    """Stop watching a feed and forget it (stories already seen stay seen)."""
    r = get_redis()
    removal.remove_feed(r, store.get_feed(r, feed_id), get_settings())
    return Response(status_code=204)


@router.post("/feeds/{feed_id}/enable", response_model=schemas.Feed)
def enable_feed(feed_id: str):
    """Poll a feed again now, with its error count reset."""
    r = get_redis()
    store.enable_feed(r, store.get_feed(r, feed_id).id)
    return feed_json(store.get_feed(r, feed_id))


@router.post("/feeds/{feed_id}/disable", response_model=schemas.Feed)
def disable_feed(feed_id: str):
    """Stop polling a feed but keep it; enable resumes it."""
    r = get_redis()
    feed = store.get_feed(r, feed_id)
    if feed.enabled:
        store.disable_feed(r, feed.id, "by operator")
    return feed_json(store.get_feed(r, feed_id))


@router.get("/opml", response_class=Response, responses={200: {"content": {"text/x-opml": {}}}})
def export_opml() -> Response:
    """Every feed as OPML 2.0."""
    from notifier.feeds import opml

    return Response(opml.write_opml(store.list_feeds(get_redis())), media_type="text/x-opml")


@router.post("/opml")
def import_opml(document: bytes = Body(..., media_type="text/x-opml")) -> dict:
    """Add the feeds of an OPML file; a refused URL is reported and the others are still added."""
    from notifier.core.refusals import Refused
    from notifier.feeds import opml

    try:
        outlines = opml.read_opml(document)
    except opml.OpmlError as exc:
        raise Refused(str(exc)) from None
    report = opml.import_feeds(get_redis(), outlines, get_settings())
    refused = [{"url": url, "error": why} for url, why in report.refused]
    return {"imported": report.imported, "present": report.present, "refused": refused}


@router.get("/topics", response_model=list[schemas.Topic])
def list_topics():
    return [topic_json(t) for t in store.list_topics(get_redis())]


@router.post("/topics", response_model=schemas.Topic, status_code=201)
def add_topic(topic: schemas.TopicIn):
    """Add a topic; an existing name is a 409 (change it with PUT)."""
    found = catalog.define_topic(
        get_redis(), topic.name, topic.match, topic.urgent, False, topic.min_sources, topic.urgent_sources
    )
    return topic_json(found)


@router.put("/topics/{name}", response_model=schemas.Topic)
def replace_topic(name: str, change: schemas.TopicChange):
    """Set a topic's expression, adding the topic if it is new."""
    found = catalog.define_topic(
        get_redis(), name, change.match, change.urgent, True, change.min_sources, change.urgent_sources
    )
    return topic_json(found)


@router.delete("/topics/{name}", status_code=204)
def remove_topic(name: str) -> Response:
    """Remove a topic nobody follows; a followed one is a 409 naming its followers."""
    catalog.drop_topic(get_redis(), name)
    return Response(status_code=204)
