"""The WebSub callback: a hub verifies our intent with a GET and delivers content with a POST."""

from __future__ import annotations

import functools

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from notifier.api.deps import get_redis
from notifier.core import broker
from notifier.core.db import broker_url
from notifier.feeds import websub, websub_callback
from notifier.settings import get_settings

router = APIRouter()


@router.get("/websub/{feed_id}")
def verify(feed_id: str, request: Request) -> Response:
    challenge = websub_callback.verify_intent(get_redis(), feed_id, dict(request.query_params))
    if challenge is None:
        return PlainTextResponse("no such subscription request", status_code=404)
    return PlainTextResponse(challenge)


@router.post("/websub/{feed_id}")
async def push(feed_id: str, request: Request) -> Response:
    """202 for every push to a subscription we hold, processed or not (WebSub §8): a hub learns
    nothing from our answer about whether its signature was right."""
    settings, r = get_settings(), get_redis()
    if not await run_in_threadpool(r.exists, websub.key(feed_id)):
        return PlainTextResponse("no such subscription", status_code=404)
    body = await read_capped(request, settings.fetch_max_bytes)
    if body is None:
        return PlainTextResponse(f"body over {settings.fetch_max_bytes} bytes", status_code=413)
    signature, content_type = request.headers.get("X-Hub-Signature"), request.headers.get("Content-Type")
    # parsing a large feed takes a while: off the event loop
    # the new stories' fan-out is enqueued right away: a push must not wait for the next tick
    fan_out = functools.partial(enqueue_fan_out, broker_url(settings), settings.fanout_queue)
    await run_in_threadpool(
        websub_callback.accept_push, r, feed_id, body, signature, content_type, settings, fan_out
    )
    return Response(status_code=202)


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The raw body, or None as soon as it passes `limit` bytes (declared or sent)."""
    declared = request.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def enqueue_fan_out(url: str, queue: str, story_ids: list[str]) -> None:
    broker.enqueue(url, "workers.tasks.fan_out", [story_ids], queue=queue)  # see workers/app.py routes
