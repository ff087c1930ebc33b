"""A reader's own page, /manage/TOKEN: topics, quiet hours, channels (phone and chat, each sent a
test message before it is saved, and this browser's push), and leaving. The link is in every
alert and in the confirmation; the token opens this one reader and nobody else.

Each form posts to its own path and answers with a redirect back (so a reload never posts
twice), or with the page again and the reason when the change was refused.
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from notifier.alerts import readers
from notifier.api.deps import get_redis
from notifier.api.html import page
from notifier.api.readers import reader_of
from notifier.api.safety import check_csrf, rate_limit
from notifier.core import vapid
from notifier.core.refusals import Refused
from notifier.settings import get_settings
from notifier.stories import store

router = APIRouter(prefix="/manage/{token}", include_in_schema=False)
DONE = {  # fixed messages: nothing from the query string is ever shown
    "confirmed": "You're subscribed. This page is yours: bookmark it to change your alerts.",
    "topics": "Your topics are saved.",
    "schedule": "Your quiet hours are saved.",
    "channel": "The test message was sent and the channel is saved.",
    "removed": "That channel will get no more alerts.",
}
Csrf = Annotated[str | None, Form()]


def manage_page(request: Request, token: str, status: int = 200, error: str | None = None) -> Response:
    r, settings = get_redis(), get_settings()
    name = reader_of(token)
    return page(
        request,
        "manage.html",
        status,
        private=True,
        token=token,
        me=readers.view(r, store.get_subscriber(r, name), settings),
        topics=[t.name for t in store.list_topics(r)],
        kinds=list(readers.KINDS),
        zones=sorted(available_timezones()),
        done=DONE.get(request.query_params.get("done", "")),
        error=error,
        vapid_key=vapid.public_key(r, settings),
    )


def back(token: str, done: str) -> Response:
    return RedirectResponse(f"/manage/{token}?done={done}", status_code=303)


def changed(request: Request, token: str, csrf: str | None, change, done: str) -> Response:
    """Run one change for this reader; the page again with the reason if it was refused."""
    check_csrf(request, csrf)
    name = reader_of(token)
    try:
        change(name)
    except (Refused, store.NotFound) as exc:
        return manage_page(request, token, 422, str(exc))
    return back(token, done)


@router.get("", dependencies=[Depends(rate_limit("read"))])
def show(request: Request, token: str) -> Response:
    return manage_page(request, token)


@router.post("/topics", dependencies=[Depends(rate_limit("write"))])
def topics(request: Request, token: str, csrf: Csrf = None, topics: Annotated[list[str], Form()] = ()):
    return changed(request, token, csrf, lambda n: readers.set_topics(get_redis(), n, list(topics)), "topics")


@router.post("/schedule", dependencies=[Depends(rate_limit("write"))])
def schedule(
    request: Request,
    token: str,
    csrf: Csrf = None,
    quiet_from: Annotated[str, Form(max_length=5)] = "",
    quiet_to: Annotated[str, Form(max_length=5)] = "",
    tz: Annotated[str, Form(max_length=64)] = "UTC",
    digest: Annotated[str, Form(max_length=10)] = "",
):
    quiet = f"{quiet_from}-{quiet_to}" if quiet_from and quiet_to else None
    return changed(
        request, token, csrf, lambda n: readers.set_schedule(get_redis(), n, quiet, tz, digest), "schedule"
    )


@router.post("/channels", dependencies=[Depends(rate_limit("write"))])
def add_channel(
    request: Request,
    token: str,
    csrf: Csrf = None,
    kind: Annotated[str, Form(max_length=20)] = "",
    value: Annotated[str, Form(max_length=2000)] = "",
):
    def add(name: str) -> None:
        readers.add_channel(get_redis(), get_settings(), name, kind, value)

    return changed(request, token, csrf, add, "channel")


@router.post("/channels/{channel_id}/remove", dependencies=[Depends(rate_limit("write"))])
def remove_channel(request: Request, token: str, channel_id: str, csrf: Csrf = None):
    check_csrf(request, csrf)
    if readers.remove_channel(get_redis(), get_settings(), reader_of(token), channel_id) is None:
        return left(request)
    return back(token, "removed")


@router.post("/leave", dependencies=[Depends(rate_limit("write"))])
def leave(request: Request, token: str, csrf: Csrf = None):
    check_csrf(request, csrf)
    readers.leave(get_redis(), reader_of(token))
    return left(request)


def left(request: Request) -> Response:
    text = "You will get no more alerts from us. You can subscribe again from the front page."
    return page(request, "message.html", private=True, title="Unsubscribed", text=text)
