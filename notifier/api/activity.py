"""Operator API: what happened: stories, the delivery ledger, and the service's status
(what `notifier story`, `notifier deliveries` and `notifier status` show)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from notifier.alerts import overview
from notifier.api import schemas
from notifier.api.auth import require_operator
from notifier.api.deps import get_redis
from notifier.core import db
from notifier.settings import get_settings
from notifier.stories import latest
from notifier.stories.views import story_json

router = APIRouter(prefix="/api", tags=["operator: activity"], dependencies=[Depends(require_operator)])


@router.get("/stories", response_model=list[schemas.Story])
def list_stories(
    feed: str | None = Query(None, description="Only stories of this feed (id or URL)."),
    topic: str | None = Query(None, description="Only stories this topic's expression matches."),
    limit: int = Query(50, ge=1, le=1000),
):
    """Stories newest first (by publication, else by when we first saw them), baseline ones too."""
    r = get_redis()
    expr = latest.topic_expression(r, topic) if topic else None
    feed_id = latest.feed_id_of(r, feed) if feed else None
    return [story_json(s) for s in latest.newest_stories(r, feed_id, expr, limit)]


@router.get("/stories/{story_id}", response_model=schemas.StoryDetail)
def show_story(story_id: str):
    """A story, the feeds it came from, the topics it matched and why, and its deliveries."""
    return overview.story_detail(get_redis(), story_id)


@router.get("/deliveries", response_model=list[schemas.Delivery])
def list_deliveries(
    failed: bool = Query(False, description="Only those that failed or were dropped."),
    story: str | None = Query(None),
    subscriber: str | None = Query(None),
):
    """The latest deliveries, newest first, or all the deliveries of one story."""
    return [d.as_json() for d in overview.deliveries(get_redis(), failed, story, subscriber)]


@router.post("/deliveries/{delivery_id}/retry", response_model=schemas.Accepted, status_code=202)
def retry_delivery(delivery_id: str):
    """Send a failed or dropped delivery again on the next tick; any other state is a 422."""
    before = overview.retry_delivery(get_redis(), delivery_id)
    return {"status": f"{before}; will be sent again on the next tick"}


@router.get("/status", response_model=schemas.Status)
def status():
    """Feeds and their last poll, queue depths, delivery counts, what waits, failing URLs."""
    return overview.gather_status(get_redis(), db.broker_url(get_settings()))
